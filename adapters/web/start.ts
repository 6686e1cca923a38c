/**
 * The web playground as an adapter: mounts its routes on the process's HTTP server and
 * listens to the event hub the web deliverers publish on. Needs no credentials, so every
 * process that serves users (roles all and bot) runs it.
 */
import type { TokenCounter } from '../../commands/context.ts';
import { limitsFromConfig } from '../../commands/context.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { Config } from '../../src/config.ts';
import type { HttpServerHandle } from '../../src/http-server.ts';
import type { JobPayload } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { Logger } from '../../src/logger.ts';
import type { ModelCatalog } from '../../src/models.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { resultTtlSeconds, type ResultStore } from '../../src/results.ts';
import type { WebEventHub } from './events.ts';
import { Gallery } from './gallery.ts';
import { WebInbound } from './inbound.ts';
import { LiveUpdates } from './live.ts';
import { webRoutes } from './routes.ts';

export interface WebAdapterDeps {
  config: Pick<Config, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY' | 'RESULT_TTL_DAYS'>;
  http: HttpServerHandle;
  queue: JobQueue;
  results: ResultStore;
  kv: KeyValueStore;
  artifacts: ArtifactStore;
  models: ModelCatalog;
  hub: WebEventHub;
  countTokens: TokenCounter;
  logger: Logger;
  jobPayload?: (jobId: string) => Promise<JobPayload | null>;
  randomSeed?: () => number;
}

export interface WebAdapter {
  readonly inbound: WebInbound;
  /** The playground's address on this process's server. */
  readonly url: string;
  close(): Promise<void>;
}

export function startWebAdapter(deps: WebAdapterDeps): WebAdapter {
  const gallery = new Gallery(deps.kv, deps.results, resultTtlSeconds(deps.config));
  const inbound = new WebInbound({
    config: deps.config,
    queue: deps.queue,
    results: deps.results,
    artifacts: deps.artifacts,
    models: deps.models,
    gallery,
    countTokens: deps.countTokens,
    logger: deps.logger,
    jobPayload: deps.jobPayload,
    randomSeed: deps.randomSeed,
  });
  const live = new LiveUpdates({ queue: deps.queue, hub: deps.hub, gallery, logger: deps.logger });
  const routes = webRoutes({ inbound, live, gallery, results: deps.results, artifacts: deps.artifacts, models: deps.models, limits: limitsFromConfig(deps.config), logger: deps.logger });
  for (const route of routes) deps.http.route(route);
  return {
    inbound,
    url: `http://localhost:${deps.http.port}`,
    async close() {
      live.close();
    },
  };
}
