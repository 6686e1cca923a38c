/**
 * The web playground as an adapter: mounts its routes on the process's HTTP server and
 * listens to the event hub the web deliverers publish on. Needs no credentials, so every
 * process that serves users (roles all and bot) runs it.
 */
import { limitsFromConfig } from '../../commands/context.ts';
import { averageJobMs } from '../../src/job-durations.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { BotServices } from '../../commands/bot-services.ts';
import type { WebConfig } from './env.ts';
import type { HttpServerHandle } from '../../src/http-server.ts';
import { resultTtlSeconds } from '../../src/results.ts';
import type { WebEventHub } from './events.ts';
import { EditLinks } from '../../src/edit-links.ts';
import { AccessGate } from './access.ts';
import { editLinkRoutes } from './edit-link-routes.ts';
import { Gallery } from './gallery.ts';
import { WebIdentity } from './identity.ts';
import { WebInbound } from './inbound.ts';
import { LiveUpdates } from './live.ts';
import { webRoutes } from './routes.ts';

export interface WebAdapterDeps extends BotServices {
  config: Pick<WebConfig, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY' | 'RESULT_TTL_DAYS' | 'NSFW_MODE' | 'TRUST_PROXY' | 'WEB_ACCESS_KEY' | 'PUBLIC_URL'>;
  /**
   * Serve the playground (default). Off, only the region editor reached through links from chat
   * is served (with PUBLIC_URL set): a chat deployment gets the editor without the playground.
   */
  playground?: boolean;
  http: HttpServerHandle;
  artifacts: ArtifactStore;
  hub: WebEventHub;
}

export interface WebAdapter {
  readonly inbound: WebInbound;
  /** The playground's address on this process's server. */
  readonly url: string;
  /** Whether WEB_ACCESS_KEY guards it (the start-up lines say how to get in). */
  readonly needsAccessKey: boolean;
  close(): Promise<void>;
}

/**
 * Whether this process serves the playground (WEB_PLAYGROUND). auto: only when no chat platform
 * (Discord, Slack) is configured, so a chat deployment does not grow an unauthenticated side door
 * on the port that carries /slack/events; the operator turns it on knowingly.
 */
export function playgroundEnabled(config: Pick<WebConfig, 'WEB_PLAYGROUND'>, chatConfigured: boolean): boolean {
  if (config.WEB_PLAYGROUND !== 'auto') return config.WEB_PLAYGROUND === 'on';
  return !chatConfigured;
}

export async function startWebAdapter(deps: WebAdapterDeps): Promise<WebAdapter> {
  const identity = await WebIdentity.load(deps.kv);
  const gallery = new Gallery(deps.kv, deps.results, resultTtlSeconds(deps.config));
  const inbound = new WebInbound({ ...deps, gallery, averageJobMs: () => averageJobMs(deps.kv) });
  const flagged = deps.config.NSFW_MODE;
  let live: LiveUpdates | null = null;
  if (deps.playground !== false) {
    live = new LiveUpdates({ queue: deps.queue, hub: deps.hub, gallery, logger: deps.logger, flagged });
    const routes = webRoutes({ inbound, live, gallery, results: deps.results, artifacts: deps.artifacts, models: deps.models, limits: limitsFromConfig(deps.config), identity, access: new AccessGate(identity, deps.config.WEB_ACCESS_KEY), trustedProxies: deps.config.TRUST_PROXY, flagged, logger: deps.logger });
    for (const route of routes) deps.http.route(route);
  }
  // Links are only made where PUBLIC_URL is set; the editor they lead to is served with it.
  if (deps.config.PUBLIC_URL !== undefined) {
    const links = await EditLinks.load(deps.kv);
    for (const route of editLinkRoutes({ links, inbound, results: deps.results, artifacts: deps.artifacts, identity, trustedProxies: deps.config.TRUST_PROXY, flagged })) deps.http.route(route);
  }
  return {
    inbound,
    url: deps.http.url,
    needsAccessKey: deps.config.WEB_ACCESS_KEY !== undefined,
    async close() {
      live?.close();
    },
  };
}
