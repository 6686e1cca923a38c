/**
 * The web playground as an adapter: mounts its routes on the process's HTTP server and
 * listens to the event hub the web deliverers publish on. Needs no credentials, so every
 * process that serves users (roles all and bot) runs it.
 */
import { limitsFromConfig } from '../../commands/context.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { BotServices } from '../../src/bot-services.ts';
import type { Config } from '../../src/config.ts';
import type { HttpServerHandle } from '../../src/http-server.ts';
import { resultTtlSeconds } from '../../src/results.ts';
import type { WebEventHub } from './events.ts';
import { Gallery } from './gallery.ts';
import { WebIdentity } from './identity.ts';
import { WebInbound } from './inbound.ts';
import { LiveUpdates } from './live.ts';
import { webRoutes } from './routes.ts';

export interface WebAdapterDeps extends BotServices {
  config: Pick<Config, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY' | 'RESULT_TTL_DAYS' | 'NSFW_MODE' | 'TRUST_PROXY'>;
  http: HttpServerHandle;
  artifacts: ArtifactStore;
  hub: WebEventHub;
}

export interface WebAdapter {
  readonly inbound: WebInbound;
  /** The playground's address on this process's server. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startWebAdapter(deps: WebAdapterDeps): Promise<WebAdapter> {
  const identity = await WebIdentity.load(deps.kv);
  const gallery = new Gallery(deps.kv, deps.results, resultTtlSeconds(deps.config));
  const inbound = new WebInbound({ ...deps, gallery });
  const live = new LiveUpdates({ queue: deps.queue, hub: deps.hub, gallery, logger: deps.logger, flagged: deps.config.NSFW_MODE });
  const routes = webRoutes({ inbound, live, gallery, results: deps.results, artifacts: deps.artifacts, models: deps.models, limits: limitsFromConfig(deps.config), identity, trustedProxies: deps.config.TRUST_PROXY, flagged: deps.config.NSFW_MODE, logger: deps.logger });
  for (const route of routes) deps.http.route(route);
  return {
    inbound,
    url: deps.http.url,
    async close() {
      live.close();
    },
  };
}
