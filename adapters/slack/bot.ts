/**
 * The Slack bot on the real Bolt App, in one of two modes with the same listeners:
 *  - HTTP (SLACK_SIGNING_SECRET): Bolt's HTTPReceiver verifies every request's signature and
 *    answers url_verification, after request-freshness.ts has refused timestamps more than five
 *    minutes off in either direction; its request listener is mounted at
 *    /slack/events on the process's one HTTP server (src/http-server.ts), which serves the
 *    slash command, interactivity and event subscription URLs alike;
 *  - Socket Mode (SLACK_APP_TOKEN, preferred when both are set): Bolt's SocketModeReceiver
 *    holds a WebSocket to Slack, so no public URL is needed.
 * It only enqueues: images are made and posted by the workers (deliver.ts).
 */
import { App, HTTPReceiver, ErrorCode as BoltErrorCode, type Receiver } from '@slack/bolt';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { limitsFromConfig } from '../../commands/context.ts';
import { jobPayloadLookup } from '../../commands/bot-services.ts';
import { ConfigError } from '../../src/config.ts';
import { EditLinks } from '../../src/edit-links.ts';
import type { HttpRoute, HttpServerHandle } from '../../src/http-server.ts';
import type { SlackBotDeps, SlackRuntime } from './bot-context.ts';
import { registerButtonPresses } from './button-presses.ts';
import { registerEditForms } from './edit-forms.ts';
import { ChannelPacer } from './channel-pacer.ts';
import { registerReactions } from './reaction-events.ts';
import { slackTimestampProblem } from './request-freshness.ts';
import { parseSlackReactions } from './reactions.ts';
import { ResponseUrlReplies } from './response-url.ts';
import { SlackApi } from './slack-api.ts';
import { registerImagineCommand } from './slash-command.ts';
import { createSlackWebClient, DEFAULT_CLIENT_LIMITS, slackClientOptions, slackLogger, type SlackClientLimits } from './web-client.ts';
import { slackCommandRules } from './command-rules.ts';

export const SLACK_EVENTS_PATH = '/slack/events';

export type SlackMode = 'http' | 'socket';

export interface SlackBot {
  readonly mode: SlackMode;
  readonly app: App;
  /** HTTP mode: the route serving Slack's Request URLs (mounted on the given server by start()). */
  readonly route: HttpRoute | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SlackBotOptions {
  /** HTTP mode: the process's HTTP server to mount /slack/events on. */
  http?: HttpServerHandle;
  clientLimits?: SlackClientLimits;
  /** Pacing of posts per channel (tests shorten it). */
  pacer?: ChannelPacer;
}

export function slackMode(config: SlackBotDeps['config']): SlackMode {
  if (!config.SLACK_BOT_TOKEN) throw new ConfigError('SLACK_BOT_TOKEN', 'required to run the Slack bot (the xoxb- bot token)');
  if (config.SLACK_APP_TOKEN) return 'socket';
  if (config.SLACK_SIGNING_SECRET) return 'http';
  throw new ConfigError('SLACK_SIGNING_SECRET', 'required to run the Slack bot over HTTP (or set SLACK_APP_TOKEN for Socket Mode)');
}

export function createSlackBot(deps: SlackBotDeps, opts: SlackBotOptions = {}): SlackBot {
  const { config } = deps;
  const mode = slackMode(config);
  const log = deps.logger.child({ component: 'slack' });
  const client = createSlackWebClient(config, log, opts.clientLimits ?? DEFAULT_CLIENT_LIMITS);
  const rt: SlackRuntime = {
    ...deps,
    logger: log,
    jobPayload: deps.jobPayload ?? jobPayloadLookup(deps.queue),
    limits: limitsFromConfig(config),
    platformRules: slackCommandRules,
    reactions: parseSlackReactions(config.SLACK_REACTIONS ?? undefined),
    api: new SlackApi(client, opts.pacer ?? new ChannelPacer(deps.kv), {
      onRateLimited: ({ call, retryAfterMs }) => log.info({ call, retryAfterMs }, 'slack rate limit: waiting'),
    }),
    editLinks: null,
    responses: new ResponseUrlReplies(deps.kv, { onError: (err) => log.warn({ err: { message: (err as Error).message } }, 'response_url post failed') }),
  };

  const logger = slackLogger(log);
  const clientOptions = slackClientOptions(config, log, opts.clientLimits ?? DEFAULT_CLIENT_LIMITS);
  let receiver: HTTPReceiver | null = null;
  let app: App;
  if (mode === 'http') {
    receiver = new HTTPReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET!,
      endpoints: SLACK_EVENTS_PATH,
      // Acknowledge first, work after: Slack's 3-second window is for the ack alone.
      processBeforeResponse: false,
      logger,
      unhandledRequestTimeoutMillis: 2_900,
    });
    app = new App({ token: config.SLACK_BOT_TOKEN, receiver: receiver as Receiver, clientOptions, logger, deferInitialization: true, convoStore: false });
  } else {
    app = new App({
      token: config.SLACK_BOT_TOKEN,
      appToken: config.SLACK_APP_TOKEN,
      socketMode: true,
      clientOptions,
      // The Socket Mode client opens its connection through the same (overridable) Web API base.
      installerOptions: { clientOptions: { slackApiUrl: config.SLACK_API_URL } },
      logger,
      deferInitialization: true,
      convoStore: false,
    });
  }

  registerImagineCommand(app, rt);
  registerButtonPresses(app, rt);
  registerEditForms(app, rt);
  registerReactions(app, rt);
  app.error(async (err) => {
    log.error({ err: { message: err.message, code: (err as { code?: string }).code } }, 'slack listener failed');
  });

  let stopped = false;
  const route: HttpRoute | null = receiver
    ? {
        method: 'POST',
        prefix: SLACK_EVENTS_PATH,
        handler: (req: IncomingMessage, res: ServerResponse) => {
          if (stopped) {
            res.writeHead(503).end();
            return;
          }
          const stale = slackTimestampProblem(req);
          if (stale) {
            // Answered as Bolt answers a failed signature check; the body is never read.
            log.warn({ problem: stale }, 'slack request refused');
            res.writeHead(401).end();
            return;
          }
          try {
            receiver!.requestListener(req, res);
          } catch (err) {
            // Paths below /slack/events that Bolt does not serve.
            if ((err as { code?: string }).code === BoltErrorCode.HTTPReceiverDeferredRequestError) res.writeHead(404).end();
            else throw err;
          }
        },
      }
    : null;

  return {
    mode,
    app,
    route,
    async start() {
      // auth.test now, so a bad token stops start-up instead of failing every event.
      await app.init();
      if (config.PUBLIC_URL) rt.editLinks = await EditLinks.load(deps.kv);
      if (mode === 'http') {
        if (!opts.http) throw new Error('the Slack bot in HTTP mode needs the process HTTP server to mount /slack/events on');
        opts.http.route(route!);
      } else {
        await app.start();
      }
      log.info({ mode, path: mode === 'http' ? SLACK_EVENTS_PATH : undefined }, 'slack bot ready');
    },
    async stop() {
      stopped = true;
      if (mode === 'socket') await app.stop();
    },
  };
}
