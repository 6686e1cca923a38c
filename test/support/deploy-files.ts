/**
 * The deploy files as data: the Kubernetes manifests (the plain `kubectl apply -f deploy/kubernetes/`
 * set, the optional kustomize components and the tools beside it), the compose file and the
 * Dockerfiles, parsed once for the deploy tests.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../kit/app-process.ts';

export const DEPLOY = path.join(REPO_ROOT, 'deploy');
export const K8S = path.join(DEPLOY, 'kubernetes');

export type Obj = Record<string, any>;

export const isYaml = (file: string) => file.endsWith('.yaml') || file.endsWith('.yml');

/** Every YAML document of one file, failing on a parse error with the file's name. */
export function yamlDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${path.relative(REPO_ROOT, file)}: ${d.errors[0].message}`);
      return d.toJS() as Obj;
    })
    .filter(Boolean);
}

export interface K8sDoc {
  /** Relative to deploy/kubernetes/, e.g. `bot.yaml` or `keda/scaled-object.yaml`. */
  file: string;
  doc: Obj;
}

/** The YAML files directly in a folder (not below it), as `kubectl apply -f <folder>` reads them. */
export const yamlFilesIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => isYaml(f) && statSync(path.join(dir, f)).isFile())
    .sort();

/** The subfolders of deploy/kubernetes/: optional components and tools, each applied on its own. */
export const k8sSubfolders = () =>
  readdirSync(K8S)
    .filter((f) => statSync(path.join(K8S, f)).isDirectory())
    .sort();

/** What `kubectl apply -f deploy/kubernetes/` applies. */
export const plainApplyDocs: K8sDoc[] = yamlFilesIn(K8S).flatMap((file) => yamlDocs(path.join(K8S, file)).map((doc) => ({ file, doc })));

/** The objects of the subfolders (their kustomization.yaml files left out). */
export const extraDocs: K8sDoc[] = k8sSubfolders().flatMap((dir) =>
  yamlFilesIn(path.join(K8S, dir))
    .filter((f) => !/^kustomization\.ya?ml$/.test(f))
    .flatMap((f) => yamlDocs(path.join(K8S, dir, f)).map((doc) => ({ file: `${dir}/${f}`, doc }))),
);

export const allDocs = plainApplyDocs.concat(extraDocs);

export const byKind = (kind: string, docs: K8sDoc[] = allDocs) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

export function named(kind: string, name: string): Obj {
  const found = byKind(kind).find((d) => d.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in deploy/kubernetes`);
  return found;
}

/** Workloads with a pod template. */
export const workloads = () => byKind('Deployment').concat(byKind('StatefulSet'));
/** Pod specs of every workload and bare Pod. */
export const podSpecs = (): { name: string; spec: Obj }[] =>
  workloads()
    .map((w) => ({ name: `${w.kind} ${w.metadata.name}`, spec: w.spec.template.spec }))
    .concat(byKind('Pod').map((p) => ({ name: `Pod ${p.metadata.name}`, spec: p.spec })));

export const containerOf = (name: string) => named('Deployment', name).spec.template.spec.containers[0] as Obj;
export const envOf = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, String(e.value ?? '')]));

export const composeFile = path.join(DEPLOY, 'docker-compose.yml');
export const compose = yamlDocs(composeFile)[0];

export interface Dockerfile {
  file: string;
  env: Record<string, string>;
  expose: number[];
  entrypoint: string[];
  cmd: string[];
  healthcheck: string | null;
  /** The last USER instruction, as written. */
  user: string;
  /** Every RUN instruction, continuation lines joined. */
  runs: string[];
  /** The image tag its build comment gives (`-t name`). */
  tag: string;
  /** Every path a COPY takes from the build context (not from another stage). */
  copies: string[];
}

export function parseDockerfile(file: string): Dockerfile {
  const text = readFileSync(path.join(DEPLOY, file), 'utf8').replace(/\\\n/g, ' ');
  const out: Dockerfile = { file, env: {}, expose: [], entrypoint: [], cmd: [], healthcheck: null, user: '', runs: [], tag: /-t ([\w.-]+)/.exec(text)?.[1] ?? '', copies: [] };
  for (const line of text.split('\n')) {
    const [, instr, rest] = /^\s*([A-Z]+)\s+(.*)$/.exec(line) ?? [];
    if (instr === 'ENV') for (const m of rest.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) out.env[m[1]] = m[2];
    if (instr === 'EXPOSE') out.expose.push(...rest.split(/\s+/).map(Number));
    if (instr === 'ENTRYPOINT') out.entrypoint = JSON.parse(rest);
    if (instr === 'CMD') out.cmd = JSON.parse(rest);
    if (instr === 'HEALTHCHECK') out.healthcheck = rest;
    if (instr === 'USER') out.user = rest.trim();
    if (instr === 'RUN') out.runs.push(rest);
    if (instr === 'COPY' && !rest.startsWith('--from')) out.copies.push(...rest.trim().split(/\s+/).slice(0, -1));
  }
  return out;
}

export const dockerfiles = readdirSync(DEPLOY)
  .filter((f) => f.startsWith('Dockerfile'))
  .map(parseDockerfile);

export function dockerfileForImage(image: string): Dockerfile {
  const found = dockerfiles.find((d) => d.tag === image.split(':')[0]);
  if (!found) throw new Error(`no Dockerfile builds ${image}`);
  return found;
}

/** The Dockerfile a compose service builds. */
export const dockerfileOfComposeService = (svc: Obj) =>
  parseDockerfile(path.relative(DEPLOY, path.resolve(DEPLOY, svc.build.context, svc.build.dockerfile)));

/** The secret every `envFrom` names, as shipped (values blank until filled in). */
export function secretEnv(c: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.secretRef) Object.assign(out, named('Secret', from.secretRef.name).stringData ?? {});
  }
  return out;
}

/** deploy/kustomization.yaml, the kustomize entry (`kubectl apply -k deploy/`). */
export const kustomizationFile = path.join(DEPLOY, 'kustomization.yaml');
export const kustomization = (): Obj => yamlDocs(kustomizationFile)[0];
