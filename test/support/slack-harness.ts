/**
 * Everything a Slack end-to-end test runs against: a private Redis, the loopback fake Slack
 * Web API, a worker child process started the way a fleet starts one (`npm run worker`, no
 * platform variable), and the bot side in the test process: the real Bolt App in HTTP mode on
 * the process HTTP server at /slack/events, and the delivery side with the real Slack deliverer. Requests reach Bolt signed as Slack signs them.
 */
import { createSlackBot, SLACK_EVENTS_PATH, type SlackBot } from '../../adapters/slack/bot.ts';
import { ChannelPacer } from '../../adapters/slack/channel-pacer.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { createLogger } from '../../src/logger.ts';
import { tokenCounter } from '../../src/root/token-counter.ts';
import { stackView, startE2eStack, type StackView } from './e2e-stack.ts';
import { FakeSlack, type FakeSlackMessage, type FakeSlackView } from '../../kit/fake-slack.ts';
import { pressPayload, reactionPayload, SIGNING_SECRET, slashPayload, viewSubmissionPayload } from '../../kit/slack-payloads.ts';
import { FORM, formBody, interactionBody, JSON_TYPE, postSigned, type SignedPostOptions, type SignedResponse } from '../../kit/slack-signing.ts';

export { modelEnv } from './e2e-stack.ts';
export { ALICE, BOB, CHANNEL, pressPayload, reactionPayload, SIGNING_SECRET, slashPayload, viewSubmissionPayload } from '../../kit/slack-payloads.ts';

export interface SlackHarness extends StackView {
  fake: FakeSlack;
  http: HttpServerHandle;
  bot: SlackBot;
  eventsUrl: string;
  /** The fields of a slash command as Slack sends them (form fields over HTTP, the payload over Socket Mode). */
  slashPayload(text: string, opts?: { user?: string; channel?: string }): { fields: Record<string, string>; responseUrl: string };
  pressPayload(message: FakeSlackMessage, label: string, opts?: { user?: string }): { payload: Record<string, unknown>; responseUrl: string };
  reactionPayload(message: FakeSlackMessage, reaction: string, opts?: { user?: string; eventId?: string }): { body: Record<string, unknown>; eventId: string };
  slashCommand(text: string, opts?: { user?: string; channel?: string } & SignedPostOptions): Promise<{ res: SignedResponse; responseUrl: string }>;
  press(message: FakeSlackMessage, label: string, opts?: { user?: string } & SignedPostOptions): Promise<{ res: SignedResponse; responseUrl: string }>;
  reaction(message: FakeSlackMessage, reaction: string, opts?: { user?: string; eventId?: string } & SignedPostOptions): Promise<{ res: SignedResponse; eventId: string }>;
  /** Submit a modal the bot opened, with what was typed (by action_id; the rest keep their initial values). */
  submitView(view: FakeSlackView, values?: Record<string, string>, opts?: { user?: string } & SignedPostOptions): Promise<SignedResponse>;
  /** Every job BullMQ holds under this harness's queue, any state. */
  jobCount(): Promise<number>;
  close(): Promise<void>;
}

export interface SlackHarnessOptions {
  env?: Record<string, string>;
  /** Start a worker child process (default true). */
  worker?: boolean;
  /** Run the bot in Socket Mode (SLACK_APP_TOKEN) instead of HTTP. */
  socketMode?: boolean;
}

export async function startSlackHarness(opts: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const fake = await FakeSlack.start();
  const logLevel = process.env.E2E_LOG ?? 'error';
  const logger = createLogger({ name: 'slack-e2e-bot', level: opts.env?.LOG_LEVEL ?? logLevel });
  const stack = await startE2eStack({
    label: 'slack-e2e',
    platformEnv: {
      SLACK_BOT_TOKEN: fake.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      ...(opts.socketMode ? { SLACK_APP_TOKEN: fake.enableSocketMode() } : {}),
    },
    logLevel,
    env: opts.env,
    worker: opts.worker,
    logger,
  });
  const { config, queue, results, kv, models } = stack;

  const http = await createHttpServer({ port: 0, host: '127.0.0.1', logger });
  const bot = createSlackBot({ config, queue, results, kv, models, countTokens: tokenCounter(), logger }, { http, pacer: new ChannelPacer(kv) });
  await bot.start();
  await stack.workerReady;
  const eventsUrl = `${http.url}${SLACK_EVENTS_PATH}`;

  const harness: SlackHarness = {
    ...stackView(stack),
    fake,
    http,
    bot,
    eventsUrl,
    slashPayload: (text, o = {}) => slashPayload(fake, text, o),
    pressPayload: (message, label, o = {}) => pressPayload(fake, message, label, o),
    reactionPayload: (message, reaction, o = {}) => reactionPayload(fake, message, reaction, o),
    async slashCommand(text, o = {}) {
      const { fields, responseUrl } = harness.slashPayload(text, o);
      return { res: await postSigned(eventsUrl, SIGNING_SECRET, formBody(fields), FORM, o), responseUrl };
    },
    async press(message, label, o = {}) {
      const { payload, responseUrl } = harness.pressPayload(message, label, o);
      return { res: await postSigned(eventsUrl, SIGNING_SECRET, interactionBody(payload), FORM, o), responseUrl };
    },
    async reaction(message, reaction, o = {}) {
      const { body, eventId } = harness.reactionPayload(message, reaction, o);
      return { res: await postSigned(eventsUrl, SIGNING_SECRET, JSON.stringify(body), JSON_TYPE, o), eventId };
    },
    async submitView(view, values = {}, o = {}) {
      return postSigned(eventsUrl, SIGNING_SECRET, interactionBody(viewSubmissionPayload(fake, view, values, o)), FORM, o);
    },
    async jobCount() {
      const c = await queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
    async close() {
      await bot.stop().catch(() => undefined);
      await http.close();
      await stack.close();
      await fake.close();
    },
  };
  return harness;
}

export function actionLabels(message: FakeSlackMessage | undefined): string[][] {
  return (message?.blocks ?? []).filter((b) => b.type === 'actions').map((b) => b.elements.map((e: { text: { text: string } }) => e.text.text));
}

/** The bot's result messages (the ones with U/V buttons or Vary) in a thread, oldest first. */
export function resultMessages(fake: FakeSlack, channel: string, threadTs: string): FakeSlackMessage[] {
  return fake.threadReplies(channel, threadTs).filter((m) => actionLabels(m).some((row) => row.includes('🔄')));
}
