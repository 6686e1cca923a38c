/**
 * Prometheus metrics for a process. Each call builds its own registry so several workers (or a
 * bot and a worker) can live in one process — tests, `npm start` — without colliding on names.
 * Gauges that reflect outside state (queue depth, RSS) are computed at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueCounts } from './queue/types.ts';

export interface MetricsOptions {
  /** Queue depth by state, asked at scrape time (absent in processes with no queue). */
  queueCounts?: () => Promise<QueueCounts>;
  /** Node's default process metrics (event loop lag, heap, GC...). Off in tests to keep scrapes fast. */
  defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  readonly jobsCompleted: Counter<'kind'>;
  readonly jobsFailed: Counter<'kind' | 'reason'>;
  readonly stepSeconds: Histogram<'model'>;
  readonly jobSeconds: Histogram<'kind'>;
  readonly queueWaitSeconds: Histogram<never>;
  readonly batchSize: Histogram<never>;
  readonly deliveries: Counter<'platform' | 'outcome'>;
  /** Which execution provider each loaded model runs on (value 1 per model/provider pair). */
  readonly provider: Gauge<'model' | 'provider'>;
  readonly modelsLoaded: Gauge<never>;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });

  const queueCounts = opts.queueCounts;
  if (queueCounts) {
    new Gauge({
      name: 'imagine_queue_jobs',
      help: 'Jobs in the queue by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const counts = await queueCounts();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  new Gauge({
    name: 'imagine_process_rss_bytes',
    help: 'Resident set size of this process',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    jobsCompleted: new Counter({ name: 'imagine_jobs_completed_total', help: 'Jobs completed and delivered', labelNames: ['kind'], registers: [registry] }),
    jobsFailed: new Counter({ name: 'imagine_jobs_failed_total', help: 'Job attempts that failed', labelNames: ['kind', 'reason'], registers: [registry] }),
    stepSeconds: new Histogram({
      name: 'imagine_step_seconds',
      help: 'Wall time of one denoising step (a whole batch)',
      labelNames: ['model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: 'imagine_job_seconds',
      help: 'Time from a job becoming active to its result being delivered',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    queueWaitSeconds: new Histogram({
      name: 'imagine_queue_wait_seconds',
      help: 'Time a job waited between enqueue and start',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    batchSize: new Histogram({ name: 'imagine_batch_jobs', help: 'Jobs run together in one pipeline call', buckets: [1, 2, 3, 4, 6, 8, 16], registers: [registry] }),
    deliveries: new Counter({ name: 'imagine_deliveries_total', help: 'Deliveries by platform and outcome', labelNames: ['platform', 'outcome'], registers: [registry] }),
    provider: new Gauge({ name: 'imagine_model_provider', help: 'Execution provider in use per loaded model (1 = in use)', labelNames: ['model', 'provider'], registers: [registry] }),
    modelsLoaded: new Gauge({ name: 'imagine_models_loaded', help: 'Models resident in this process', registers: [registry] }),
  };
}
