/**
 * One process of the product, wired for its role (process-role.ts) from the configuration:
 *
 *   shared      HTTP server (PORT: playground, /healthz, /readyz, /metrics, /slack/events),
 *               metrics, artifact store, key-value store, result store, web event hub
 *   queue       REDIS_URL or REDIS_CLUSTER_NODES set: BullMQ on Redis or a Redis Cluster (after
 *               checking Redis will not evict keys); unset: the in-process queue, which the worker half consumes directly
 *   adapters    each platform module (platforms.ts) its configuration turns on, last listed
 *               first: the web playground unless a chat platform is configured (WEB_PLAYGROUND
 *               decides); Slack when SLACK_BOT_TOKEN is set (HTTP receiver on /slack/events, or
 *               Socket Mode); Discord when DISCORD_TOKEN is set
 *   worker      startWorker: stores results and hands delivery tasks to the delivery queue;
 *               it holds no platform secret (role worker ignores platform variables, warning)
 *   delivery    roles all and bot: the delivery side posts results, failure notices and
 *               progress with a deliverer per platform (web always); in role all it runs
 *               inside the worker half (startWorker's deliverers)
 *
 * close() stops in the order that loses nothing: adapters stop taking requests, the worker
 * finishes and stores the jobs in hand, the delivery side posts what it holds, then queue,
 * hub, server and connections close.
 */
import { MemoryWebEventHub, RedisWebEventHub, type WebEventHub } from '../../adapters/web/events.ts';
import { resolveProviders } from '../../worker/diffusion/providers.ts';
import { startWorker, type WorkerExit, type WorkerHandle } from '../../worker/main.ts';
import { startDeliverySide } from '../delivery-side.ts';
import { chatConfigured, platformDeliverers, platformVariablesSet, startPlatforms, type AppConfig } from './platforms.ts';
import { FsArtifactStore } from '../artifacts-fs.ts';
import { jobPayloadLookup } from '../../commands/bot-services.ts';
import { createHttpServer, type HttpServerHandle, type ReadinessCheck } from '../http-server.ts';
import type { KeyValueStore } from '../kv.ts';
import { MemoryKeyValueStore } from '../kv-memory.ts';
import { RedisKeyValueStore } from '../kv-redis.ts';
import type { Logger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { loadModelCatalog, modelLanes, primaryModel, servedModels, type ModelCatalog } from '../models.ts';
import { runsAdapters, runsWorker, type Role } from '../process-role.ts';
import { BullmqJobQueue } from '../queue/bullmq-queue.ts';
import { LocalJobQueue } from '../queue/local-queue.ts';
import type { JobQueue } from '../queue/types.ts';
import { checkEvictionPolicy } from '../redis-eviction.ts';
import { closeRedis, describeRedisTarget, redisFromConfig, usesRedis, type RedisClient } from '../redis.ts';
import { ResultStore } from '../results.ts';
import { tokenCounter } from './token-counter.ts';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** What is on, for the start-up lines (never a secret). */
export interface AppSummary {
  role: Role;
  adapters: string[];
  queue: string;
  models: { name: string; dir: string; isDefault: boolean }[];
  /** Providers asked for, and (once the default model has loaded) the one it runs on. */
  providersRequested: string[] | null;
  providerInUse: string | null;
  /** The playground (roles all and bot, when it is on). */
  playgroundUrl: string | null;
  /** WEB_ACCESS_KEY guards the playground. */
  playgroundNeedsKey: boolean;
  /** Why a process that serves users has no playground (null when it has one, and for workers). */
  playgroundOff: string | null;
  port: number;
  /** The address the HTTP server is bound to (HOST), and a URL that reaches it from this machine. */
  listenAddress: string;
  localUrl: string;
  warnings: string[];
}

export interface App {
  readonly summary: AppSummary;
  readonly http: HttpServerHandle;
  readonly queue: JobQueue;
  readonly worker: WorkerHandle | null;
  /** Resolves when the worker half stops on its own (a recycle); never for role bot. */
  readonly workerDone: Promise<WorkerExit>;
  close(): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  /** Wait for the default model to load before returning (so the summary can name the provider in use). */
  waitForModel?: boolean;
}

export async function startApp(config: AppConfig, role: Role, opts: AppOptions): Promise<App> {
  const { logger } = opts;
  if (role !== 'all' && !usesRedis(config)) {
    throw new StartupError(`Invalid configuration: REDIS_URL (or REDIS_CLUSTER_NODES) is required for --role=${role} (the ${role === 'bot' ? 'workers' : 'bots'} are other processes sharing that Redis); run \`npm start\` for everything in one process`);
  }
  const catalog: ModelCatalog = loadModelCatalog(config);
  // A worker for a model the catalog lacks would wait forever: stop before connecting anything.
  const served = runsWorker(role) ? servedModels(catalog, config.WORKER_MODELS) : [];
  const warnings: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => logger.warn({ err }, 'shutdown step failed'));
  };

  try {
    let redis: RedisClient | null = null;
    if (usesRedis(config)) {
      redis = redisFromConfig(config, { role: 'client', name: role, logger });
      cleanups.push(() => closeRedis(redis!));
      const check = await checkEvictionPolicy(redis, config.REDIS_ALLOW_EVICTION).catch((err: unknown) => {
        if ((err as Error).name === 'EvictionPolicyError') throw err;
        throw new StartupError(`Could not reach Redis at ${describeRedisTarget(config)}: ${(err as Error).message}`);
      });
      if (!check.ok) {
        warnings.push(check.warning);
        logger.warn({ policy: check.policy }, check.warning);
      }
    }

    const kv: KeyValueStore = redis ? RedisKeyValueStore.fromConfig(redis, config) : new MemoryKeyValueStore();
    const artifacts = new FsArtifactStore(config.ARTIFACT_DIR);
    const results = new ResultStore(kv);
    const hub: WebEventHub = redis ? new RedisWebEventHub(redis, config, logger) : new MemoryWebEventHub();
    cleanups.push(() => hub.close());

    // A worker-only process holds the producer side too: /metrics reports queue depth from it.
    const queue: JobQueue = redis ? new BullmqJobQueue({ config, redis, logger: logger.child({ component: 'queue' }), models: modelLanes(catalog) }) : new LocalJobQueue({ config, secrets: kv });
    cleanups.push(async () => {
      if (queue.inProcess) {
        const { waiting, delayed } = await queue.counts();
        if (waiting + delayed > 0) logger.warn({ dropped: waiting + delayed }, 'jobs still waiting in the in-process queue are dropped with it (set REDIS_URL to keep jobs across restarts)');
      }
      await queue.close();
    });

    const metrics = createMetrics({ defaultMetrics: true, queueCounts: () => queue.counts() });
    const readiness: Record<string, ReadinessCheck> = {};
    // The worker half adds its own checks (model loaded, its Redis connection).
    if (redis && !runsWorker(role)) readiness.redis = async () => ((await redis!.ping()) === 'PONG' ? true : 'redis did not answer PONG');
    const http = await createHttpServer({ port: config.PORT, host: config.HOST, metrics, logger, readiness });
    cleanups.push(() => http.close());

    const adapters: string[] = [];
    let worker: WorkerHandle | null = null;
    let workerDone: Promise<WorkerExit> = new Promise(() => undefined);

    // Registered before the worker's cleanup, so it closes after it (cleanups run in reverse).
    if (role === 'bot') {
      const delivery = await startDeliverySide({ config, deliverers: await platformDeliverers({ config, kv, logger, hub }), kv, artifacts, metrics, logger, redis });
      cleanups.push(() => delivery.close());
    }
    if (role === 'worker') {
      const ignored = platformVariablesSet(config);
      if (ignored.length) {
        const warning = `a worker posts nothing to chat platforms and ignores ${ignored.join(', ')}; remove them from the worker's environment (the bot processes deliver results)`;
        warnings.push(warning);
        logger.warn({ ignored }, warning);
      }
    }
    if (runsWorker(role)) {
      worker = await startWorker(config, {
        ...(role === 'all' ? { deliverers: await platformDeliverers({ config, kv, logger, hub }) } : {}),
        logger,
        catalog,
        kv,
        artifacts,
        http,
        metrics,
        ...(queue.inProcess ? { localQueue: queue.inProcess } : {}),
      });
      const w = worker;
      workerDone = w.done;
      cleanups.push(() => w.close());
    }

    let playgroundUrl: string | null = null;
    if (runsAdapters(role)) {
      const countTokens = tokenCounter((model, err) => logger.info({ model, err: { message: (err as Error).message } }, 'no tokenizer here for this model; prompt length warnings are off for it'));
      const common = { queue, results, kv, models: catalog, countTokens, logger, jobPayload: jobPayloadLookup(queue) };
      await startPlatforms({ ...common, config, http, artifacts, hub, chatConfigured: chatConfigured(config) }, (started) => {
        cleanups.push(() => started.stop());
        adapters.push(started.label);
        if (started.url !== undefined) playgroundUrl = started.url;
      });
    }

    let providerInUse: string | null = null;
    if (worker && opts.waitForModel) {
      const primary = primaryModel(catalog, served);
      try {
        const pipeline = await worker.residency.get(primary);
        providerInUse = pipeline.providers?.[0] ?? null;
      } catch (err) {
        const message = `model ${primary} failed to load: ${(err as Error).message}`;
        warnings.push(message);
      }
    }

    const summary: AppSummary = {
      role,
      adapters,
      queue: redis ? `redis ${describeRedisTarget(config)} (BullMQ ${config.QUEUE_PREFIX}:${config.QUEUE_NAME})` : 'in-process (no REDIS_URL)',
      models: catalog.models.map((m) => ({ name: m.name, dir: m.dir, isDefault: m.name === catalog.defaultModel.name })),
      providersRequested: worker ? resolveProviders(config.ORT_PROVIDERS.length ? config.ORT_PROVIDERS : undefined) : null,
      providerInUse,
      playgroundUrl,
      playgroundNeedsKey: playgroundUrl !== null && config.WEB_ACCESS_KEY !== undefined,
      playgroundOff: !runsAdapters(role) || playgroundUrl ? null : config.WEB_PLAYGROUND === 'off' ? 'WEB_PLAYGROUND=off' : 'Discord or Slack is configured; WEB_PLAYGROUND=on turns it on',
      port: http.port,
      listenAddress: http.address,
      localUrl: http.url,
      warnings,
    };

    let closing: Promise<void> | null = null;
    return {
      summary,
      http,
      queue,
      worker,
      workerDone,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
