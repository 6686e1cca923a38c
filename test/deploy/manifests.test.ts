/**
 * The deploy files against the code they run: every manifest and the compose file parsed,
 * then checked for the mistakes that only show up in a cluster — an environment name the
 * config schema does not know, a port or probe that misses the server, a KEDA list that is
 * not the queue's real wait list, a health path the server does not serve, a container whose
 * arguments the entry point refuses, a bot and a worker with different model catalogs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envSchema, loadConfig } from '../../src/root/config.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { createMetrics } from '../../src/metrics.ts';
import { PLATFORM_VARIABLES } from '../../src/root/platforms.ts';
import { parseRole } from '../../src/process-role.ts';
import { waitListKey } from '../../src/queue/keys.ts';
import { REPO_ROOT } from '../../kit/app-process.ts';
import {
  DEPLOY,
  byKind,
  compose,
  containerOf,
  dockerfileForImage,
  dockerfileOfComposeService,
  dockerfiles,
  envOf,
  named,
  podSpecs,
  secretEnv,
  workloads,
  type Obj,
} from '../support/deploy-files.ts';

const KNOWN_ENV = new Set(Object.keys(envSchema.shape));
/** Set in images for Node itself, not read by the product. */
const RUNTIME_ENV = new Set(['NODE_ENV']);
const deployments = workloads();

let server: HttpServerHandle;
beforeAll(async () => {
  server = await createHttpServer({ port: 0, host: '127.0.0.1', metrics: createMetrics() });
});
afterAll(async () => {
  await server?.close();
});

describe('environment names', () => {
  it('every variable set by a manifest, the compose file, a Dockerfile or .env.example exists in the config schema', () => {
    const used: [string, string][] = [];
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) for (const e of c.env ?? []) used.push([`${d.metadata.name}/${c.name}`, e.name]);
    }
    for (const s of byKind('Secret')) for (const k of Object.keys(s.stringData ?? {})) used.push([`Secret ${s.metadata.name}`, k]);
    for (const [name, svc] of Object.entries<Obj>(compose.services)) for (const k of Object.keys(svc.environment ?? {})) used.push([`compose ${name}`, k]);
    for (const d of dockerfiles) for (const k of Object.keys(d.env)) used.push([d.file, k]);
    const example = readFileSync(path.join(DEPLOY, '.env.example'), 'utf8');
    for (const m of example.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)) used.push(['.env.example', m[1]]);

    const product = used.filter(([where, name]) => !(RUNTIME_ENV.has(name) && where.startsWith('Dockerfile')));
    expect(product.length).toBeGreaterThan(15);
    expect(product.filter(([, name]) => !KNOWN_ENV.has(name))).toEqual([]);
  });

  it('each container starts with its environment as shipped (blank secrets count as unset)', () => {
    for (const name of ['imagine-bot', 'imagine-worker']) {
      const c = containerOf(name);
      const env = { ...dockerfileForImage(c.image).env, ...secretEnv(c), ...envOf(c) };
      expect(() => loadConfig(env), name).not.toThrow();
    }
    for (const [name, svc] of Object.entries<Obj>(compose.services)) {
      if (!svc.build) continue;
      const image = dockerfileOfComposeService(svc);
      expect(() => loadConfig({ ...image.env, ...svc.environment }), `compose ${name}`).not.toThrow();
    }
  });

  it('tokens come from the Secret, never as plain values in a manifest', () => {
    const secretNames = ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN'];
    for (const d of deployments) for (const c of d.spec.template.spec.containers) for (const e of c.env ?? []) expect(secretNames).not.toContain(e.name);
    for (const svc of Object.values<Obj>(compose.services)) for (const k of Object.keys(svc.environment ?? {})) expect(secretNames).not.toContain(k);
    expect(Object.keys(named('Secret', 'imagine-tokens').stringData).sort()).toEqual([...secretNames, 'DISCORD_APP_ID'].sort());
  });
});

describe('entry point and roles', () => {
  it('each image runs src/root/main.ts, with a default role matching its name', () => {
    expect(dockerfiles.map((d) => d.tag).sort()).toEqual(['imagine-bot', 'imagine-worker']);
    for (const d of dockerfiles) {
      expect(d.entrypoint.slice(-1), d.file).toEqual(['src/root/main.ts']);
      expect(parseRole(d.cmd), d.file).toBe(d.tag === 'imagine-bot' ? 'bot' : 'worker');
    }
  });

  it('Kubernetes args only choose the role (they replace CMD, not the entry point)', () => {
    expect(containerOf('imagine-bot').command).toBeUndefined();
    expect(parseRole(containerOf('imagine-bot').args)).toBe('bot');
    expect(parseRole(containerOf('imagine-worker').args)).toBe('worker');
    expect(dockerfileForImage(containerOf('imagine-bot').image).tag).toBe('imagine-bot');
    expect(dockerfileForImage(containerOf('imagine-worker').image).tag).toBe('imagine-worker');
  });

  it('the bot and the workers see the same model catalog', () => {
    const bot = containerOf('imagine-bot');
    const worker = containerOf('imagine-worker');
    for (const name of ['MODEL_DIR', 'MODELS_CONFIG']) expect(envOf(bot)[name], name).toBe(envOf(worker)[name]);
    const modelDir = envOf(worker).MODEL_DIR;
    for (const [deployment, c] of [['imagine-bot', bot], ['imagine-worker', worker]] as const) {
      const mount = (c.volumeMounts as Obj[]).find((m) => modelDir.startsWith(m.mountPath + '/'));
      expect(mount, `${deployment} mounts ${modelDir}`).toBeDefined();
      const volume = named('Deployment', deployment).spec.template.spec.volumes.find((v: Obj) => v.name === mount!.name);
      expect(volume.persistentVolumeClaim.claimName).toBe('imagine-models');
    }
    expect(named('PersistentVolumeClaim', 'imagine-models')).toBeDefined();
    const composeMounts = (svc: string) => (compose.services[svc].volumes as string[]).filter((v) => v.includes(':/models'));
    expect(composeMounts('bot')).toEqual(composeMounts('worker'));
    expect(composeMounts('worker')).toHaveLength(1);
  });
});

describe('ports and probes', () => {
  it('PORT, containerPort, probes and Service targets agree for bot and worker', () => {
    for (const name of ['imagine-bot', 'imagine-worker']) {
      const c = containerOf(name);
      const port = Number(envOf(c).PORT);
      expect(c.ports.map((p: Obj) => p.containerPort), name).toEqual([port]);
      for (const probe of [c.livenessProbe, c.readinessProbe]) expect(probe.httpGet.port, name).toBe(port);
    }
    for (const svc of byKind('Service')) {
      const target = deployments.find((d) => Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      expect(target, `Service ${svc.metadata.name} selects a workload`).toBeDefined();
      const containerPorts = target!.spec.template.spec.containers.flatMap((c: Obj) => c.ports.map((p: Obj) => p.containerPort));
      for (const p of svc.spec.ports) expect(containerPorts, `Service ${svc.metadata.name}`).toContain(p.targetPort);
    }
  });

  it('Dockerfiles expose their PORT; the compose file publishes the bot on its PORT', () => {
    for (const d of dockerfiles) expect(d.expose, d.file).toEqual([Number(d.env.PORT)]);
    const bot = compose.services.bot;
    expect(bot.ports.map((p: string) => Number(p.split(':').pop()))).toEqual([Number(bot.environment.PORT)]);
  });

  it('every container listens on all interfaces (the server alone defaults to loopback, which probes cannot reach)', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    for (const d of dockerfiles) expect(loadConfig(d.env).HOST, d.file).toBe('0.0.0.0');
    for (const name of ['imagine-bot', 'imagine-worker']) {
      const c = containerOf(name);
      expect(loadConfig({ ...dockerfileForImage(c.image).env, ...secretEnv(c), ...envOf(c) }).HOST, name).toBe('0.0.0.0');
    }
    for (const [name, svc] of Object.entries<Obj>(compose.services)) {
      if (!svc.build) continue;
      const image = dockerfileOfComposeService(svc);
      expect(loadConfig({ ...image.env, ...svc.environment }).HOST, `compose ${name}`).toBe('0.0.0.0');
    }
  });

  it('every probe and health check path is served by the process HTTP server', async () => {
    const paths = new Set<string>();
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) for (const probe of [c.livenessProbe, c.readinessProbe]) if (probe?.httpGet) paths.add(probe.httpGet.path);
    }
    for (const d of dockerfiles) if (d.healthcheck) paths.add(/'(\/[a-z][\w/-]*)'/.exec(d.healthcheck)?.[1] ?? `${d.file}: no path`);
    expect([...paths].sort()).toEqual(['/healthz', '/readyz']);
    for (const p of paths) {
      const res = await fetch(server.url + p);
      expect(res.status, p).not.toBe(404);
    }
  });
});

describe('queue scaling and Redis', () => {
  it("KEDA watches the model queue's real waiting set, on the Redis Service the workers use, and scales the worker Deployment", () => {
    const scaled = named('ScaledObject', 'imagine-worker');
    const worker = containerOf('imagine-worker');
    const config = loadConfig({ ...dockerfileForImage(worker.image).env, ...envOf(worker) });
    const trigger = scaled.spec.triggers.find((t: Obj) => t.type === 'redis');
    // The worker serves the catalog's one model (WORKER_MODELS unset): the default model's queue.
    expect(config.WORKER_MODELS).toEqual([]);
    expect(trigger.metadata.listName).toBe(waitListKey(config));
    expect(trigger.metadata.listName).toBe('{imagine}:imagine:prioritized');
    expect(scaled.spec.scaleTargetRef.name).toBe('imagine-worker');
    const redisUrl = new URL(config.REDIS_URL!);
    // KEDA dials from its own namespace: the address is the Service's cluster-wide name.
    expect(trigger.metadata.address).toMatch(new RegExp(`^${redisUrl.hostname}\\.[a-z0-9-]+\\.svc\\.cluster\\.local:${redisUrl.port}$`));
    const redisService = named('Service', redisUrl.hostname);
    expect(redisService.spec.ports.map((p: Obj) => p.port)).toContain(Number(redisUrl.port));
    expect(envOf(containerOf('imagine-bot')).REDIS_URL).toBe(config.REDIS_URL);
  });

  it('one ScaledObject per model queue: each scales its own worker Deployment on its own set', () => {
    const scaledObjects = byKind('ScaledObject');
    const lists = scaledObjects.map((s) => s.spec.triggers.find((t: Obj) => t.type === 'redis').metadata.listName);
    expect(new Set(lists).size).toBe(scaledObjects.length);
    const targets = scaledObjects.map((s) => s.spec.scaleTargetRef.name);
    expect(new Set(targets).size).toBe(scaledObjects.length);
    for (const target of targets) expect(named('Deployment', target), target).toBeDefined();
    // The per-model name the README and the manifest comment give for a second model.
    expect(waitListKey({ QUEUE_PREFIX: '{imagine}', QUEUE_NAME: 'imagine' }, 'sdxl', { defaultModel: 'sd15', models: ['sd15', 'sdxl'] })).toBe('{imagine}:imagine-m-sdxl:prioritized');
    expect(readFileSync(path.join(DEPLOY, 'kubernetes', 'keda', 'scaled-object.yaml'), 'utf8')).toContain('{imagine}:imagine-m-<model>:prioritized');
  });

  it('Redis runs with noeviction and AOF in both the cluster and compose', () => {
    const k8sArgs = named('StatefulSet', 'imagine-redis').spec.template.spec.containers[0].args.join(' ');
    const composeArgs = compose.services.redis.command.join(' ');
    for (const args of [k8sArgs, composeArgs]) {
      expect(args).toContain('--maxmemory-policy noeviction');
      expect(args).toContain('--appendonly yes');
    }
  });

  it('workers get a GPU, a disruption budget, and time to finish a job when stopped', () => {
    const worker = containerOf('imagine-worker');
    expect(worker.resources.limits['nvidia.com/gpu']).toBe(1);
    const devices = compose.services.worker.deploy.resources.reservations.devices;
    expect(devices[0]).toMatchObject({ driver: 'nvidia', capabilities: ['gpu'] });
    const pdb = named('PodDisruptionBudget', 'imagine-worker');
    expect(pdb.spec.selector.matchLabels).toEqual(named('Deployment', 'imagine-worker').spec.template.metadata.labels);
    const config = loadConfig({ ...dockerfileForImage(worker.image).env, ...envOf(worker) });
    expect(named('Deployment', 'imagine-worker').spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(config.JOB_TIMEOUT_S);
  });
});

describe('one user for the shared artifacts volume', () => {
  /** `USER uid:gid` of an image, with the RUN that creates that user and gives it /artifacts. */
  function imageUser(d: (typeof dockerfiles)[number]) {
    const m = /^(\d+):(\d+)$/.exec(d.user);
    expect(m, `${d.file}: USER is numeric uid:gid (runAsNonRoot can only check a number)`).not.toBeNull();
    const [uid, gid] = [Number(m![1]), Number(m![2])];
    const run = d.runs.find((r) => r.includes('useradd')) ?? '';
    expect(run, `${d.file} creates the user`).toMatch(new RegExp(`groupadd[^&]*--gid ${gid}\\b`));
    expect(run, `${d.file} creates the user`).toMatch(new RegExp(`useradd[^&]*--uid ${uid}\\b[^&]*--gid ${gid}\\b`));
    // A fresh named volume takes the owner of the image's own folder: it must be this user.
    expect(run, `${d.file} gives /artifacts to the user`).toMatch(new RegExp(`chown ${uid}:${gid} /artifacts\\b`));
    // …and that is where the image writes unless told otherwise (the default, inside /app, is root's).
    expect(d.env.ARTIFACT_DIR, `${d.file} ARTIFACT_DIR`).toBe('/artifacts');
    return { uid, gid };
  }

  it('the bot and worker images run as the same numeric uid and gid, which owns /artifacts', () => {
    const users = dockerfiles.map(imageUser);
    expect(users).toHaveLength(2);
    expect(users[0]).toEqual(users[1]);
    expect(users[0].uid).toBeGreaterThan(0);
  });

  it("every pod that mounts a shared volume runs as the images' uid/gid, with that fsGroup", () => {
    const { uid, gid } = imageUser(dockerfiles[0]);
    const shared = new Set(['imagine-artifacts', 'imagine-models']);
    const mounting = podSpecs().filter(({ spec }) => (spec.volumes ?? []).some((v: Obj) => shared.has(v.persistentVolumeClaim?.claimName)));
    // The bot and the workers write artifacts; the model loader writes models.
    expect(mounting.map((p) => p.name).sort()).toEqual(['Deployment imagine-bot', 'Deployment imagine-worker', 'Pod imagine-model-loader']);
    for (const { name, spec } of mounting) {
      expect(spec.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid });
      for (const c of spec.containers) expect(c.securityContext?.runAsUser ?? uid, `${name}/${c.name}`).toBe(uid);
    }
  });

  it('the bot and the workers mount artifacts read-write and models read-only, the loader models read-write', () => {
    const mountsOf = (spec: Obj) =>
      Object.fromEntries(
        spec.containers[0].volumeMounts.map((m: Obj) => [spec.volumes.find((v: Obj) => v.name === m.name).persistentVolumeClaim.claimName, Boolean(m.readOnly)]),
      );
    for (const name of ['imagine-bot', 'imagine-worker']) {
      expect(mountsOf(named('Deployment', name).spec.template.spec), name).toEqual({ 'imagine-artifacts': false, 'imagine-models': true });
    }
    expect(mountsOf(named('Pod', 'imagine-model-loader').spec)).toEqual({ 'imagine-models': false });
    // Both claims can be mounted by several nodes at once, and written (the models one by the loader).
    for (const claim of ['imagine-artifacts', 'imagine-models']) expect(named('PersistentVolumeClaim', claim).spec.accessModes, claim).toEqual(['ReadWriteMany']);
  });
});

describe('Slack over HTTPS and the README', () => {
  it("the Ingress example routes Slack's /slack/events to the bot Service's port, over TLS for the same host", () => {
    const ingress = named('Ingress', 'imagine-bot');
    const [rule] = ingress.spec.rules;
    expect(ingress.spec.tls).toEqual([{ hosts: [rule.host], secretName: expect.any(String) }]);
    const paths = rule.http.paths;
    expect(paths.map((p: Obj) => [p.path, p.pathType])).toEqual([['/slack/events', 'Exact']]);
    const backend = paths[0].backend.service;
    const svc = named('Service', backend.name);
    expect(svc.spec.ports.map((p: Obj) => p.name)).toContain(backend.port.name);
    expect(svc.spec.selector).toEqual(named('Deployment', 'imagine-bot').spec.template.metadata.labels);
  });

  it("the Kubernetes MODEL_DIR is a folder the README's export commands make, seen under the models mount", () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const modelDir = envOf(containerOf('imagine-worker')).MODEL_DIR;
    const folder = path.posix.basename(modelDir);
    expect(modelDir).toBe(`/models/${folder}`);
    expect(readme).toContain(`models/${folder}\n`);
    expect(readme).toContain(`MODEL_DIR=${modelDir}`);
    expect(readFileSync(path.join(DEPLOY, '.env.example'), 'utf8')).toContain(`MODEL_DIR=${modelDir}`);
  });

  it('workers are given no platform secret: no token Secret, no .env file, no platform variable', () => {
    const worker = containerOf('imagine-worker');
    const isPlatform = (name: string) => (PLATFORM_VARIABLES as readonly string[]).includes(name) || /^(DISCORD|SLACK)_/.test(name);
    expect(worker.envFrom ?? []).toEqual([]);
    expect(Object.keys(envOf(worker)).filter(isPlatform)).toEqual([]);
    const service = compose.services.worker;
    expect(service.env_file).toBeUndefined();
    expect(Object.keys(service.environment ?? {}).filter(isPlatform)).toEqual([]);
    expect(Object.keys(dockerfileForImage(worker.image).env).filter(isPlatform)).toEqual([]);
    // The bot still gets them.
    expect(containerOf('imagine-bot').envFrom).toContainEqual({ secretRef: { name: 'imagine-tokens' } });
  });
});

describe("the images' build context", () => {
  const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const shippedModels = ['tiny', 'tiny-xl'];

  it('leaves out operator model folders and build leftovers but keeps the embedded models', () => {
    expect(ignored).toEqual(expect.arrayContaining(['models/*', 'deploy/models', 'node_modules', 'models/*/train/cache']));
    for (const name of shippedModels) expect(ignored).toContain(`!models/${name}`);
  });

  it('ignores nothing a Dockerfile copies from the context', () => {
    for (const { file, copies } of dockerfiles) {
      expect(copies.length, file).toBeGreaterThan(0);
      for (const source of copies) expect(ignored, `${file} copies ${source}`).not.toContain(source);
    }
  });
});
