/**
 * The worker process: `startWorker(config, deps)` wires the queue consumer, the job runner,
 * model residency, the artifact store, health/readiness/metrics and the recycle policy, and
 * returns a handle whose close() finishes the jobs in hand, stores them and disconnects.
 *
 * A worker stores results and hands their delivery to the delivery queue; it holds no
 * platform secret. `deliverers` makes this process also run the delivery side (one-process
 * mode, and tests that want worker and delivery in one process).
 *
 * Everything with an outside effect can be injected (deliverers, pipeline loader, Redis
 * connection, artifact store, HTTP server), so tests drive the real worker against a real
 * Redis with a recording deliverer, and `npm start` shares one HTTP server and one metrics
 * registry with the bot half.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Queue } from 'bullmq';
import type { ArtifactStore } from '../src/artifacts.ts';
import { FsArtifactStore } from '../src/artifacts-fs.ts';
import type { Config } from '../src/config.ts';
import type { Deliverer } from '../src/delivery.ts';
import type { DeliveryOutbox } from '../src/delivery-tasks.ts';
import { startDeliverySide, type DeliverySide } from '../src/delivery-side.ts';
import { RedisDeliveryOutbox } from '../src/queue/delivery-queue.ts';
import { createHttpServer, type HttpServerHandle, type ReadinessCheck } from '../src/http-server.ts';
import type { KeyValueStore } from '../src/kv.ts';
import { RedisKeyValueStore } from '../src/kv-redis.ts';
import { createLogger, type Logger } from '../src/logger.ts';
import { createMetrics, type Metrics } from '../src/metrics.ts';
import { loadModelCatalog, modelLanes, primaryModel, servedModels, type ModelCatalog, type ModelInfo } from '../src/models.ts';
import { sumJobCounts } from '../src/queue/bullmq-queue.ts';
import { queueKeys } from '../src/queue/keys.ts';
import { closeRedis, redisFromConfig, type RedisClient } from '../src/redis.ts';
import type { InProcessJobs } from '../src/queue/types.ts';
import { ResultStore } from '../src/results.ts';
import type { DelivererRegistry } from '../src/deliverer-registry.ts';
import type { RetryPolicy } from '../src/delivery-retry.ts';
import { loadPipeline } from './diffusion/index.ts';
import { resolveProviders } from './diffusion/providers.ts';
import { JobRunner, type WorkerPipeline } from './job-runner.ts';
import { ModelResidency, type PipelineLoader } from './model-residency.ts';
import { LocalQueueConsumer } from './local-consumer.ts';
import { QueueConsumer, type Consumer } from './queue-consumer.ts';
import { peekLane } from './lane-gate.ts';
import { RecyclePolicy, type RecycleReason } from './recycle-policy.ts';

export interface WorkerDeps {
  /**
   * Run the delivery side in this process too, with these deliverers (one-process mode, or a
   * test's recording one). Required with a local queue; a fleet worker has none.
   */
  deliverers?: Deliverer[] | DelivererRegistry;
  logger?: Logger;
  catalog?: ModelCatalog;
  /** Default: the diffusion pipeline on ORT_PROVIDERS with WORKER_MAX_BATCH images per UNet batch. */
  loadPipeline?: PipelineLoader<WorkerPipeline>;
  /** A worker-role connection to share (commands wait out outages); default: one from REDIS_URL, closed by close(). */
  redis?: RedisClient;
  /**
   * One-process mode (`npm start` without Redis): take jobs from this in-process queue instead
   * of BullMQ. Then `kv` is required and must be the store the queue keeps secrets in.
   */
  localQueue?: InProcessJobs;
  artifacts?: ArtifactStore;
  /** Secrets, results and delivery records; default: RedisClient under the queue prefix. */
  kv?: KeyValueStore;
  /** The process's HTTP server to add readiness checks to; default: a new one on HOST:PORT; false: none. */
  http?: HttpServerHandle | false;
  metrics?: Metrics;
  /** Queue timing knobs (tests shorten them so crash recovery takes seconds). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
  /** How long close() waits on BullMQ once no job runs before cutting its blocking connection. */
  closeGraceMs?: number;
  retryPolicy?: RetryPolicy;
  /** Wraps the outbox jobs hand their delivery to (fault tests stop a worker at the handover). */
  wrapOutbox?(outbox: DeliveryOutbox): DeliveryOutbox;
  /** Delivery-queue lock timings for the delivery side started with `deliverers`. */
  deliveryLockMs?: number;
  deliveryStalledMs?: number;
  /** Load the default model at start so /readyz turns ready before the first job (default true). */
  preload?: boolean;
  /** Artifact sweep period (default hourly). */
  sweepIntervalMs?: number;
}

export type WorkerExit = { reason: 'closed' } | { reason: 'recycle'; detail: RecycleReason };

export interface WorkerHandle {
  readonly id: string;
  readonly runner: JobRunner;
  readonly consumer: Consumer;
  readonly residency: ModelResidency<WorkerPipeline>;
  readonly metrics: Metrics;
  readonly http: HttpServerHandle | null;
  readonly batching: boolean;
  /** The delivery side this process runs (with `deliverers`), else null. */
  readonly delivery: DeliverySide | null;
  /** Resolves once the worker has stopped (closed, or recycled by its policy). */
  readonly done: Promise<WorkerExit>;
  /** Stop taking jobs, finish and deliver the ones held, release models and connections. */
  close(): Promise<void>;
}

/** Batching pays on GPUs (one UNet call for several images); on CPU it only adds latency. */
export function batchingEnabled(config: Pick<Config, 'WORKER_BATCHING' | 'ORT_PROVIDERS'>): boolean {
  if (config.WORKER_BATCHING !== 'auto') return config.WORKER_BATCHING === 'on';
  const providers = resolveProviders(config.ORT_PROVIDERS.length ? config.ORT_PROVIDERS : undefined);
  return providers[0] === 'cuda' || providers[0] === 'tensorrt';
}

export async function startWorker(config: Config, deps: WorkerDeps): Promise<WorkerHandle> {
  const id = `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const logger = (deps.logger ?? createLogger({ name: 'worker', level: config.LOG_LEVEL })).child({ worker: id });
  const local = deps.localQueue;
  if (local && !deps.kv) throw new Error('startWorker: a local queue needs the key-value store it keeps secrets in (deps.kv)');
  const ownsRedis = !local && !deps.redis;
  const redis: RedisClient | null = local ? (deps.redis ?? null) : (deps.redis ?? redisFromConfig(config, { role: 'worker', name: 'worker', logger }));
  const kv = deps.kv ?? RedisKeyValueStore.fromConfig(redis!, config);
  const artifacts = deps.artifacts ?? new FsArtifactStore(config.ARTIFACT_DIR);
  const results = new ResultStore(kv);
  const catalog = deps.catalog ?? loadModelCatalog(config);
  // The models this worker serves, and their queues (one per model: src/queue/keys.ts).
  const served = servedModels(catalog, config.WORKER_MODELS);
  const lanes = queueKeys(config, modelLanes(catalog)).lanes.filter((l) => served.some((m) => m.name === l.model));
  if (local && config.WORKER_MODELS.length > 0) logger.warn({ WORKER_MODELS: config.WORKER_MODELS }, 'WORKER_MODELS applies to workers on Redis; the in-process queue is served for every model');
  if (local && !deps.deliverers) throw new Error('startWorker: a local queue needs the deliverers that post its results in this process (deps.deliverers)');

  const batching = batchingEnabled(config);
  const maxBatch = batching ? config.WORKER_MAX_BATCH : 1;
  const slots = config.WORKER_CONCURRENCY;

  let countsQueues: Queue[] | null = null;
  const metrics =
    deps.metrics ??
    createMetrics({
      defaultMetrics: true,
      // The queues this worker serves, summed.
      queueCounts: async () => {
        if (local) return local.counts();
        countsQueues ??= lanes.map((l) => new Queue(l.name, { connection: redis!, prefix: config.QUEUE_PREFIX }));
        return sumJobCounts(countsQueues);
      },
    });

  const loader: PipelineLoader<WorkerPipeline> =
    deps.loadPipeline ??
    ((model: ModelInfo) =>
      loadPipeline(model.dir, {
        providers: config.ORT_PROVIDERS.length ? config.ORT_PROVIDERS : undefined,
        intraOpThreads: config.ORT_THREADS || undefined,
        maxBatch: Math.max(config.WORKER_MAX_BATCH, 1),
        upscalerDir: config.UPSCALER_DIR,
        logger,
      }));
  const loadErrors = new Map<string, string>();
  const residency = new ModelResidency<WorkerPipeline>(catalog, loader, {
    onLoaded: (model, pipeline, ms) => {
      loadErrors.delete(model.name);
      for (const provider of pipeline.providers?.slice(0, 1) ?? []) metrics.provider.set({ model: model.name, provider }, 1);
      metrics.modelsLoaded.set(residency.loadedNames().length);
      logger.info({ model: model.name, providers: pipeline.providers, ms: Math.round(ms) }, 'model loaded');
    },
    onLoadFailed: (model, err) => {
      loadErrors.set(model.name, (err as Error)?.message ?? String(err));
      logger.error({ model: model.name, err }, 'model failed to load');
    },
  });

  const delivery: DeliverySide | null = deps.deliverers
    ? await startDeliverySide({
        config,
        deliverers: deps.deliverers,
        kv,
        artifacts,
        metrics,
        logger,
        redis: local ? null : redis,
        retryPolicy: deps.retryPolicy,
        lockDurationMs: deps.deliveryLockMs,
        stalledIntervalMs: deps.deliveryStalledMs,
      })
    : null;
  const redisOutbox = local ? null : new RedisDeliveryOutbox(redis!, config, logger);
  const baseOutbox: DeliveryOutbox = redisOutbox ?? delivery!.localOutbox!;
  const outbox = deps.wrapOutbox ? deps.wrapOutbox(baseOutbox) : baseOutbox;
  // A worker about to recycle takes no job beyond its WORKER_MAX_JOBS while the last ones are stored.
  const lastJobsInHand = () => config.WORKER_MAX_JOBS > 0 && recycle.jobsDone + consumer.activeJobIds.length >= config.WORKER_MAX_JOBS;
  const runner = new JobRunner({
    config,
    residency,
    artifacts,
    results,
    kv,
    outbox,
    metrics,
    logger,
    slots,
    maxBatch,
    onFinishing: () => (lastJobsInHand() ? () => undefined : (consumer.finishing?.() ?? (() => undefined))),
  });

  let resolveDone!: (exit: WorkerExit) => void;
  const done = new Promise<WorkerExit>((r) => (resolveDone = r));
  const recycle = new RecyclePolicy({ maxJobs: config.WORKER_MAX_JOBS, maxRssMb: config.WORKER_MAX_RSS_MB });
  let closing: Promise<void> | null = null;
  let exit: WorkerExit = { reason: 'closed' };

  const onSettled = () => {
    const reason = recycle.jobFinished();
    if (reason && !closing) {
      logger.info({ reason }, 'recycling: finishing the jobs in hand, then exiting for the supervisor to restart');
      exit = { reason: 'recycle', detail: reason };
      void handle.close();
    }
  };
  const consumer: Consumer = local
    ? new LocalQueueConsumer({ config, queue: local, runner, logger, metrics, concurrency: slots * maxBatch, onSettled })
    : new QueueConsumer({
        config,
        connection: redis!,
        runner,
        logger,
        metrics,
        concurrency: slots * maxBatch,
        lockDurationMs: deps.lockDurationMs,
        stalledIntervalMs: deps.stalledIntervalMs,
        maxStalledCount: deps.maxStalledCount,
        closeGraceMs: deps.closeGraceMs,
        workerName: id,
        onSettled,
        lanes: {
          queues: lanes.map((l) => ({ name: l.name, model: l.model! })),
          holds: (model) => residency.holds(model),
          peek: (model) => peekLane(redis!, lanes.find((l) => l.model === model)!),
          maxWaitMs: config.WORKER_MODEL_WAIT_S * 1000,
        },
      });

  // The model loaded at start and checked by readiness: the default one when this worker serves it.
  const defaultModel = primaryModel(catalog, served);
  let http: HttpServerHandle | null = null;
  const readiness: Record<string, ReadinessCheck> = {
    model: () => (residency.isLoaded(defaultModel) ? true : loadErrors.has(defaultModel) ? `model ${defaultModel} failed to load` : `model ${defaultModel} is loading`),
  };
  if (redis) readiness.redis = async () => ((await redis.ping()) === 'PONG' ? true : 'redis did not answer PONG');
  if (deps.http === undefined) {
    http = await createHttpServer({ port: config.PORT, host: config.HOST, metrics, readiness, logger });
  } else if (deps.http) {
    http = deps.http;
    for (const [name, check] of Object.entries(readiness)) http.setReadinessCheck(name, check);
  }

  const sweepMs = config.RESULT_TTL_DAYS * 86_400_000;
  const sweep = () =>
    artifacts
      .sweep(sweepMs)
      .then((n) => n > 0 && logger.info({ removed: n }, 'expired artifacts removed'))
      .catch((err: unknown) => logger.warn({ err }, 'artifact sweep failed'));
  void sweep();
  const sweepTimer = setInterval(sweep, deps.sweepIntervalMs ?? 3_600_000);
  sweepTimer.unref();

  if (deps.preload ?? true) {
    residency.get(defaultModel).catch(() => undefined); // failures are reported through readiness and each job
  }
  await consumer.start();
  logger.info({ queue: local ? 'local' : lanes.map((l) => `${config.QUEUE_PREFIX}:${l.name}`), slots, batching, maxBatch, models: served.map((m) => m.name), delivers: delivery?.service.platforms() ?? [], port: http?.port }, 'worker started');

  const handle: WorkerHandle = {
    id,
    runner,
    consumer,
    residency,
    metrics,
    http,
    batching,
    delivery,
    done,
    close() {
      closing ??= (async () => {
        clearInterval(sweepTimer);
        await consumer.close();
        // The jobs finished above handed their tasks over; posts in flight here finish too.
        await delivery?.close();
        await redisOutbox?.close();
        await residency.close();
        if (deps.http === undefined) await http?.close();
        else if (http) for (const name of Object.keys(readiness)) http.removeReadinessCheck(name);
        await Promise.all((countsQueues ?? []).map((q) => q.close().catch(() => undefined)));
        if (ownsRedis && redis) await closeRedis(redis);
        logger.info({ exit: exit.reason, jobs: recycle.jobsDone }, 'worker stopped');
        resolveDone(exit);
      })();
      return closing;
    },
  };
  return handle;
}
