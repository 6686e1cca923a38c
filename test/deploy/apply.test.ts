/**
 * What `kubectl apply -f deploy/kubernetes/`, `kubectl apply -k deploy/` and `docker compose`
 * would take, checked offline: every object of the plain apply is of a kind every cluster has (no
 * CRD such as KEDA's, no kustomization file), with the fields the Kubernetes API requires and no
 * field it does not know; the kustomization and its components list files that exist; and, where
 * the tools are installed, the real `kustomize build` and `docker compose config` accept the files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/root/config.ts';
import {
  DEPLOY,
  K8S,
  allDocs,
  compose,
  composeFile,
  dockerfileOfComposeService,
  dockerfiles,
  k8sSubfolders,
  kustomization,
  kustomizationFile,
  plainApplyDocs,
  yamlDocs,
  yamlFilesIn,
  type Obj,
} from '../support/deploy-files.ts';

/** Built-in kinds by apiVersion (Kubernetes API reference, v1.29+), the only ones a bare cluster knows. */
const BUILT_IN: Record<string, string[]> = {
  v1: ['Secret', 'Service', 'PersistentVolumeClaim', 'Pod', 'ConfigMap'],
  'apps/v1': ['Deployment', 'StatefulSet'],
  'policy/v1': ['PodDisruptionBudget'],
  'networking.k8s.io/v1': ['Ingress'],
};
/** Custom resources used by the optional parts, with the operator that defines them. */
const CUSTOM: Record<string, string[]> = { 'keda.sh/v1alpha1': ['ScaledObject'] };

/**
 * Fields of the API objects the manifests use (Container, PodSpec, PodSecurityContext): kubectl's
 * default strict field validation refuses an unknown one, so a misspelt key fails the apply.
 */
const CONTAINER_FIELDS = new Set([
  'name', 'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'env', 'envFrom', 'ports',
  'livenessProbe', 'readinessProbe', 'startupProbe', 'resources', 'volumeMounts', 'securityContext', 'lifecycle',
]);
const POD_SPEC_FIELDS = new Set([
  'containers', 'initContainers', 'volumes', 'securityContext', 'terminationGracePeriodSeconds', 'restartPolicy',
  'nodeSelector', 'tolerations', 'affinity', 'serviceAccountName',
]);
const POD_SECURITY_FIELDS = new Set(['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'fsGroupChangePolicy', 'supplementalGroups', 'seccompProfile']);
const ACCESS_MODES = new Set(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']);
const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What the API requires of each kind used here; returns the problems found. */
function problemsOf(doc: Obj): string[] {
  const out: string[] = [];
  const need = (ok: unknown, what: string) => {
    if (!ok) out.push(what);
  };
  need(DNS_LABEL.test(doc.metadata?.name ?? ''), 'metadata.name is a DNS label');
  const pod = (spec: Obj | undefined, where: string, claimTemplates: string[] = []) => {
    need(spec && Array.isArray(spec.containers) && spec.containers.length > 0, `${where}.containers`);
    for (const k of Object.keys(spec ?? {})) need(POD_SPEC_FIELDS.has(k), `${where}: unknown field ${k}`);
    for (const k of Object.keys(spec?.securityContext ?? {})) need(POD_SECURITY_FIELDS.has(k), `${where}.securityContext: unknown field ${k}`);
    const volumes = new Set((spec?.volumes ?? []).map((v: Obj) => v.name).concat(claimTemplates));
    for (const c of spec?.containers ?? []) {
      need(DNS_LABEL.test(c.name ?? ''), `${where}: container name`);
      need(typeof c.image === 'string' && c.image.length > 0, `${where}/${c.name}: image`);
      for (const k of Object.keys(c)) need(CONTAINER_FIELDS.has(k), `${where}/${c.name}: unknown field ${k}`);
      for (const m of c.volumeMounts ?? []) need(volumes.has(m.name), `${where}/${c.name}: mount ${m.name} names a volume of the pod`);
      for (const p of c.ports ?? []) need(Number.isInteger(p.containerPort), `${where}/${c.name}: containerPort`);
    }
  };
  const selected = (spec: Obj) => {
    const match = spec.selector?.matchLabels ?? {};
    need(Object.keys(match).length > 0, 'spec.selector.matchLabels');
    const labels = spec.template?.metadata?.labels ?? {};
    need(Object.entries(match).every(([k, v]) => labels[k] === v), 'spec.template labels match the selector');
  };
  switch (doc.kind) {
    case 'Deployment':
      selected(doc.spec);
      pod(doc.spec.template?.spec, 'spec.template.spec');
      break;
    case 'StatefulSet':
      selected(doc.spec);
      need(typeof doc.spec.serviceName === 'string', 'spec.serviceName');
      pod(
        doc.spec.template?.spec,
        'spec.template.spec',
        (doc.spec.volumeClaimTemplates ?? []).map((t: Obj) => t.metadata?.name),
      );
      for (const t of doc.spec.volumeClaimTemplates ?? []) need(QUANTITY.test(t.spec?.resources?.requests?.storage ?? ''), 'volumeClaimTemplates storage');
      break;
    case 'Pod':
      pod(doc.spec, 'spec');
      break;
    case 'Service':
      need(Array.isArray(doc.spec?.ports) && doc.spec.ports.length > 0, 'spec.ports');
      for (const p of doc.spec?.ports ?? []) need(Number.isInteger(p.port), 'spec.ports[].port');
      if (doc.spec?.ports?.length > 1) need(doc.spec.ports.every((p: Obj) => p.name), 'several ports are each named');
      break;
    case 'PersistentVolumeClaim':
      need(doc.spec?.accessModes?.length > 0 && doc.spec.accessModes.every((m: string) => ACCESS_MODES.has(m)), 'spec.accessModes');
      need(QUANTITY.test(doc.spec?.resources?.requests?.storage ?? ''), 'spec.resources.requests.storage');
      break;
    case 'PodDisruptionBudget':
      need(doc.spec?.selector, 'spec.selector');
      need(('minAvailable' in doc.spec) !== ('maxUnavailable' in doc.spec), 'exactly one of minAvailable / maxUnavailable');
      break;
    case 'Secret':
      need(Object.values(doc.stringData ?? {}).every((v) => typeof v === 'string'), 'stringData values are strings');
      break;
    case 'Ingress':
      for (const rule of doc.spec?.rules ?? []) {
        for (const p of rule.http?.paths ?? []) {
          need(['Exact', 'Prefix', 'ImplementationSpecific'].includes(p.pathType), 'paths[].pathType');
          need(p.backend?.service?.name && (p.backend.service.port?.name || p.backend.service.port?.number), 'paths[].backend.service name and port');
        }
      }
      break;
    case 'ScaledObject':
      need(doc.spec?.scaleTargetRef?.name, 'spec.scaleTargetRef.name');
      need(doc.spec?.triggers?.length > 0 && doc.spec.triggers.every((t: Obj) => t.type && t.metadata), 'spec.triggers[] type and metadata');
      break;
    default:
      out.push(`no check written for kind ${doc.kind}`);
  }
  return out;
}

describe('kubectl apply -f deploy/kubernetes/ (a cluster without KEDA)', () => {
  it('applies only built-in kinds: no custom resource and no kustomization file in that folder', () => {
    expect(yamlFilesIn(K8S).filter((f) => /^kustomization\./.test(f))).toEqual([]);
    const kinds = plainApplyDocs.map(({ file, doc }) => `${file}: ${doc.apiVersion} ${doc.kind}`);
    const unknown = plainApplyDocs.filter(({ doc }) => !BUILT_IN[doc.apiVersion]?.includes(doc.kind));
    expect(unknown.map(({ file, doc }) => `${file}: ${doc.apiVersion} ${doc.kind}`), kinds.join('\n')).toEqual([]);
    // The whole product: Redis, both halves, their volumes and tokens.
    expect(plainApplyDocs.map(({ doc }) => `${doc.kind}/${doc.metadata.name}`).sort()).toEqual([
      'Deployment/imagine-bot',
      'Deployment/imagine-worker',
      'PersistentVolumeClaim/imagine-artifacts',
      'PersistentVolumeClaim/imagine-models',
      'PodDisruptionBudget/imagine-worker',
      'Secret/imagine-tokens',
      'Service/imagine-bot',
      'Service/imagine-redis',
      'StatefulSet/imagine-redis',
    ]);
  });

  it('every object, optional parts included, has the fields its kind requires and no unknown pod or container field', () => {
    for (const { file, doc } of allDocs) {
      const known = BUILT_IN[doc.apiVersion]?.includes(doc.kind) || CUSTOM[doc.apiVersion]?.includes(doc.kind);
      expect(known, `${file}: ${doc.apiVersion} ${doc.kind}`).toBe(true);
      expect(problemsOf(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`).toEqual([]);
    }
  });

  it('the checks catch what a cluster would refuse', () => {
    const bot = allDocs.find(({ doc }) => doc.kind === 'Deployment' && doc.metadata.name === 'imagine-bot')!.doc;
    const broken = structuredClone(bot);
    broken.spec.template.spec.securityContext.fsgroup = 10001;
    broken.spec.template.spec.containers[0].imagePullPolcy = 'Always';
    broken.spec.template.metadata.labels = { app: 'other' };
    expect(problemsOf(broken)).toEqual([
      'spec.template labels match the selector',
      'spec.template.spec.securityContext: unknown field fsgroup',
      'spec.template.spec/bot: unknown field imagePullPolcy',
    ]);
  });
});

describe('kubectl apply -k deploy/ (kustomize)', () => {
  it('lists exactly the files of the plain apply, each of which exists', () => {
    const resources: string[] = kustomization().resources;
    for (const r of resources) expect(existsSync(path.join(DEPLOY, r)), r).toBe(true);
    expect([...resources].sort()).toEqual(yamlFilesIn(K8S).map((f) => `kubernetes/${f}`));
  });

  it('names both images once, by the names the manifests use and the Dockerfiles build', () => {
    const images: Obj[] = kustomization().images;
    const built = dockerfiles.map((d) => d.tag).sort();
    expect(images.map((i) => i.name).sort()).toEqual(built);
    for (const i of images) expect(i.newName && i.newTag, i.name).toBeTruthy();
    const used = plainApplyDocs.flatMap(({ doc }) => doc.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image.split(':')[0]);
    for (const name of built) expect(used, name).toContain(name);
  });

  it('each subfolder with a kustomization.yaml is a Component whose files exist, offered in deploy/kustomization.yaml', () => {
    const text = readFileSync(kustomizationFile, 'utf8');
    const components = k8sSubfolders().filter((d) => existsSync(path.join(K8S, d, 'kustomization.yaml')));
    expect(components.sort()).toEqual(['ingress', 'keda']);
    for (const dir of components) {
      const c = yamlDocs(path.join(K8S, dir, 'kustomization.yaml'))[0];
      expect(c, dir).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component' });
      for (const r of c.resources) expect(existsSync(path.join(K8S, dir, r)), `${dir}/${r}`).toBe(true);
      expect(text).toMatch(new RegExp(`^#?\\s*- kubernetes/${dir}$`, 'm'));
    }
  });
});

/** `kustomize`, or kubectl's built-in copy of it, when either is on PATH. */
const kustomizeCommand = (() => {
  const candidates = [
    { cmd: ['kustomize', 'build'], probe: ['version'] },
    { cmd: ['kubectl', 'kustomize'], probe: ['version', '--client'] },
  ];
  for (const { cmd, probe } of candidates) {
    if (spawnSync(cmd[0], probe, { stdio: 'ignore', timeout: 20_000 }).status === 0) return cmd;
  }
  return null;
})();

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagine-deploy-'));
  temps.push(dir);
  return dir;
};

function kustomizeBuild(dir: string, extra: string[] = []): Obj[] {
  const out = execFileSync(kustomizeCommand![0], [kustomizeCommand![1], ...extra, dir], { encoding: 'utf8', timeout: 60_000 });
  return parseAllDocuments(out).map((d) => d.toJS() as Obj);
}

describe.skipIf(!kustomizeCommand)('kustomize build (needs kustomize or kubectl on PATH)', () => {
  it('renders the plain set with the images renamed, and nothing else', () => {
    const objects = kustomizeBuild(DEPLOY);
    const names = (docs: Obj[]) => docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(names(objects)).toEqual(names(plainApplyDocs.map((d) => d.doc)));
    const images = objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image);
    for (const i of kustomization().images) expect(images).toContain(`${i.newName}:${i.newTag}`);
    expect(images.filter((i: string) => i.startsWith('imagine-'))).toEqual([]);
  });

  it('uncommenting `components:` and both lines in deploy/kustomization.yaml, as the README says, adds the ScaledObject and the Ingress, and the worker leaves its replica count to KEDA', () => {
    const dir = tempDir();
    cpSync(K8S, path.join(dir, 'kubernetes'), { recursive: true });
    const text = readFileSync(kustomizationFile, 'utf8');
    const enabled = text.replace(/^# (components:)$/m, '$1').replace(/^#( +- kubernetes\/\w+)$/gm, '$1');
    expect(enabled).not.toBe(text);
    writeFileSync(path.join(dir, 'kustomization.yaml'), enabled);
    const objects = kustomizeBuild(dir);
    const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
    expect(find('ScaledObject', 'imagine-worker')).toBeDefined();
    expect(find('Ingress', 'imagine-bot')).toBeDefined();
    expect(find('Deployment', 'imagine-worker')!.spec.replicas).toBeUndefined();
    expect(find('Deployment', 'imagine-bot')!.spec.replicas).toBe(1);
  });
});

/** `docker compose` (the v2 plugin) or the standalone `docker-compose`, when either is installed. */
const composeCommand = (() => {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    if (spawnSync(cmd[0], [...cmd.slice(1), 'version'], { stdio: 'ignore', timeout: 20_000 }).status === 0) return cmd;
  }
  return null;
})();

describe.skipIf(!composeCommand)('docker compose config (needs the docker compose plugin or docker-compose on PATH)', () => {
  it('accepts the compose file with .env copied from .env.example, as the README says, and each service starts with what it resolves', () => {
    // A copy beside the real Dockerfiles, so deploy/.env of this checkout is neither needed nor touched.
    const root = tempDir();
    mkdirSync(path.join(root, 'deploy'));
    copyFileSync(composeFile, path.join(root, 'deploy', 'docker-compose.yml'));
    copyFileSync(path.join(DEPLOY, '.env.example'), path.join(root, 'deploy', '.env'));
    for (const d of dockerfiles) copyFileSync(path.join(DEPLOY, d.file), path.join(root, 'deploy', d.file));
    const out = execFileSync(composeCommand![0], [...composeCommand!.slice(1), '-f', 'deploy/docker-compose.yml', 'config'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const resolved = parseAllDocuments(out)[0].toJS() as Obj;
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(compose.services).sort());
    for (const [name, svc] of Object.entries<Obj>(resolved.services)) {
      if (!svc.build) continue;
      const image = dockerfileOfComposeService(compose.services[name]);
      // .env's blank values count as unset, as they do for the process.
      expect(() => loadConfig({ ...image.env, ...svc.environment }), `compose ${name}`).not.toThrow();
      expect(svc.environment.REDIS_URL, name).toBe('redis://redis:6379');
    }
  });
});
