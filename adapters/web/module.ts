/**
 * The web playground as a platform module. It needs no credentials: every process that serves
 * users delivers to it, and it serves the playground (WEB_PLAYGROUND), or only the region editor
 * that links from chat lead to (PUBLIC_URL), or nothing.
 */
import type { BotServices } from '../../commands/bot-services.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { HttpServerHandle } from '../../src/http-server.ts';
import type { PlatformModule } from '../../src/platform.ts';
import { webCommandRules } from './command-rules.ts';
import { WebDeliverer } from './deliver.ts';
import { webEnv, type WebConfig } from './env.ts';
import type { WebEventHub } from './events.ts';
import { playgroundEnabled, startWebAdapter } from './start.ts';

export interface WebModuleDeps extends BotServices {
  config: WebConfig;
  http: HttpServerHandle;
  artifacts: ArtifactStore;
  hub: WebEventHub;
  /** A chat platform is configured in this process (the playground is then opt-in). */
  chatConfigured: boolean;
}

export interface WebDelivererDeps {
  config: WebConfig;
  /** Where results and progress go to the browsers (in-process, or Redis pub/sub in a fleet). */
  hub: WebEventHub;
}

export const webPlatform: PlatformModule<WebModuleDeps, WebDelivererDeps> = {
  name: 'web',
  chat: false,
  env: webEnv,
  commands: webCommandRules,
  redaction: { fields: [], patterns: [] },
  configured: () => true,
  async start(deps) {
    if (playgroundEnabled(deps.config, deps.chatConfigured)) {
      const web = await startWebAdapter(deps);
      return { label: 'web playground', url: web.url, stop: () => web.close() };
    }
    if (deps.config.PUBLIC_URL === undefined) return null;
    // Vary (Region) links from chat lead to the editor, which is served without the playground.
    const web = await startWebAdapter({ ...deps, playground: false });
    return { label: 'region editor (links from chat)', stop: () => web.close() };
  },
  deliverer: async (deps) => new WebDeliverer(deps.hub),
};
