/**
 * Everything a Slack end-to-end test runs against: a private Redis, the loopback fake Slack
 * Web API, a worker child process started the way a fleet starts one (`worker/cli.ts`, the
 * real Slack deliverer), and the bot (the real Bolt App in HTTP mode) in the test process on
 * the process HTTP server at /slack/events. Requests reach Bolt signed as Slack signs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSlackBot, SLACK_EVENTS_PATH, type SlackBot } from '../../adapters/slack/bot.ts';
import { ChannelPacer } from '../../adapters/slack/channel-pacer.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { createLogger } from '../../src/logger.ts';
import { loadModelCatalog, type ModelCatalog } from '../../src/models.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { closeRedis, createRedis } from '../../src/redis.ts';
import { ResultStore } from '../../src/results.ts';
import { tokenCounter } from '../../src/token-counter.ts';
import { FakeSlack, type FakeSlackMessage } from './fake-slack.ts';
import { uniquePrefix } from './queue-prefix.ts';
import { startRedis, type TestRedis } from './redis-server.ts';
import { FORM, formBody, interactionBody, JSON_TYPE, postSigned, type SignedPostOptions, type SignedResponse } from './slack-signing.ts';
import { TINY_MODEL_DIR } from './tiny-model-check.ts';
import { writeTinyModel } from './tiny-sd-models.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const CHANNEL = 'C0IMAGINE';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
export const SIGNING_SECRET = 'test-signing-secret-0123456789';

export interface SlackHarness {
  fake: FakeSlack;
  redis: TestRedis;
  env: Record<string, string>;
  config: Config;
  queue: BullmqJobQueue;
  results: ResultStore;
  kv: RedisKeyValueStore;
  models: ModelCatalog;
  /** Whether the embedded demo model draws the images (so their content can be checked). */
  embeddedModel: boolean;
  http: HttpServerHandle;
  bot: SlackBot;
  /** Absent when the harness runs without a worker (jobs then stay queued). */
  worker: ChildProcess | null;
  workerLog: string[];
  eventsUrl: string;
  /** The fields of a slash command as Slack sends them (form fields over HTTP, the payload over Socket Mode). */
  slashPayload(text: string, opts?: { user?: string; channel?: string }): { fields: Record<string, string>; responseUrl: string };
  pressPayload(message: FakeSlackMessage, label: string, opts?: { user?: string }): { payload: Record<string, unknown>; responseUrl: string };
  reactionPayload(message: FakeSlackMessage, reaction: string, opts?: { user?: string; eventId?: string }): { body: Record<string, unknown>; eventId: string };
  slashCommand(text: string, opts?: { user?: string; channel?: string } & SignedPostOptions): Promise<{ res: SignedResponse; responseUrl: string }>;
  press(message: FakeSlackMessage, label: string, opts?: { user?: string } & SignedPostOptions): Promise<{ res: SignedResponse; responseUrl: string }>;
  reaction(message: FakeSlackMessage, reaction: string, opts?: { user?: string; eventId?: string } & SignedPostOptions): Promise<{ res: SignedResponse; eventId: string }>;
  /** Every job BullMQ holds under this harness's queue, any state. */
  jobCount(): Promise<number>;
  close(): Promise<void>;
}

/** The embedded model when it is complete; otherwise a tiny random-weight model in the same layout. */
export function modelEnv(dir: string): { env: Record<string, string>; embedded: boolean } {
  try {
    loadModelCatalog({ MODEL_DIR: TINY_MODEL_DIR, MODELS_CONFIG: undefined });
    return { env: { MODEL_DIR: TINY_MODEL_DIR }, embedded: true };
  } catch {
    console.warn('[slack e2e] models/tiny is not a complete model folder yet: using a random-weight test model, image content is not checked');
    const modelDir = writeTinyModel(dir, { name: 'tiny', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215, withVaeEncoder: true });
    const configFile = path.join(dir, 'models.json');
    writeFileSync(configFile, JSON.stringify({ models: [{ name: 'tiny', dir: modelDir, baseSize: 64, sizeMultiple: 8, defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7 }] }));
    return { env: { MODELS_CONFIG: configFile }, embedded: false };
  }
}

let seq = 0;
const slackTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

/** The fields of a slash command as Slack sends them (form fields over HTTP, the payload over Socket Mode). */
export function slashPayload(fake: FakeSlack, text: string, o: { user?: string; channel?: string } = {}): { fields: Record<string, string>; responseUrl: string } {
  const user = o.user ?? ALICE;
  const channel = o.channel ?? CHANNEL;
  const responseUrl = fake.newResponseUrl(channel, user);
  const fields = {
    token: 'legacy-verification-token',
    team_id: fake.teamId,
    team_domain: 'fake',
    channel_id: channel,
    channel_name: 'imagine',
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/imagine',
    text,
    api_app_id: 'A0IMAGINE',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
  };
  return { fields, responseUrl };
}

/** A block_actions payload for pressing the button labelled `label` on a message. */
export function pressPayload(fake: FakeSlack, message: FakeSlackMessage, label: string, o: { user?: string } = {}): { payload: Record<string, unknown>; responseUrl: string } {
  const user = o.user ?? ALICE;
  const button = (message.blocks ?? [])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements.map((e: any) => ({ ...e, block_id: b.block_id })))
    .find((e: any) => e.text.text === label);
  if (!button) throw new Error(`no button ${label} on message ${message.ts}`);
  const responseUrl = fake.newResponseUrl(message.channel, user);
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: fake.teamId },
    api_app_id: 'A0IMAGINE',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}) },
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    team: { id: fake.teamId, domain: 'fake' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: message.channel, name: 'imagine' },
    message: { type: 'message', ts: message.ts, thread_ts: message.thread_ts, bot_id: fake.botId, text: message.text, blocks: message.blocks },
    state: { values: {} },
    response_url: responseUrl,
    actions: [{ type: 'button', action_id: button.action_id, block_id: button.block_id, text: button.text, value: button.value, action_ts: slackTs() }],
  };
  return { payload, responseUrl };
}

/** An Events API reaction_added callback. */
export function reactionPayload(fake: FakeSlack, message: FakeSlackMessage, reaction: string, o: { user?: string; eventId?: string } = {}): { body: Record<string, unknown>; eventId: string } {
  const eventId = o.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
  const body = {
    token: 'legacy-verification-token',
    team_id: fake.teamId,
    api_app_id: 'A0IMAGINE',
    event: { type: 'reaction_added', user: o.user ?? ALICE, reaction, item: { type: 'message', channel: message.channel, ts: message.ts }, item_user: fake.botUserId, event_ts: slackTs() },
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: fake.teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
  return { body, eventId };
}

export interface SlackHarnessOptions {
  env?: Record<string, string>;
  /** Start a worker child process (default true). */
  worker?: boolean;
  /** Run the bot in Socket Mode (SLACK_APP_TOKEN) instead of HTTP. */
  socketMode?: boolean;
}

export async function startSlackHarness(opts: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slack-e2e-'));
  const redis = await startRedis();
  const fake = await FakeSlack.start();
  const model = modelEnv(dir);
  const socketEnv: Record<string, string> = opts.socketMode ? { SLACK_APP_TOKEN: fake.enableSocketMode() } : {};
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('slack'),
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    ARTIFACT_DIR: path.join(dir, 'artifacts'),
    PROGRESS_INTERVAL_MS: '5',
    PROGRESS_PREVIEW: 'off',
    ORT_THREADS: '1',
    WORKER_BATCHING: 'off',
    LOG_LEVEL: process.env.E2E_LOG ?? 'error',
    PORT: '0',
    ...model.env,
    ...socketEnv,
    ...opts.env,
  };
  const config = loadConfig(env);
  const logger = createLogger({ name: 'slack-e2e-bot', level: config.LOG_LEVEL });
  const redisClient = createRedis(redis.url, { role: 'client', name: 'slack-e2e', logger });
  const kv = RedisKeyValueStore.fromConfig(redisClient, config);
  const queue = new BullmqJobQueue({ config, redis: redisClient, logger });
  const results = new ResultStore(kv);
  const models = loadModelCatalog(config);

  const workerLog: string[] = [];
  let worker: ChildProcess | null = null;
  let ready: Promise<void> = Promise.resolve();
  if (opts.worker !== false) {
    // The worker logs at info so its start-up line tells the harness that it consumes.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'worker/cli.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker = child;
    ready = new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (d: Buffer) => {
        workerLog.push(d.toString());
        buffered += d.toString();
        if (buffered.includes('"msg":"worker started"')) resolve();
      });
      child.stderr!.on('data', (d: Buffer) => workerLog.push(d.toString()));
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${workerLog.join('').slice(-3000)}`)));
    });
  }

  const http = await createHttpServer({ port: 0, host: '127.0.0.1', logger });
  const bot = createSlackBot({ config, queue, results, kv, models, countTokens: tokenCounter(), logger }, { http, pacer: new ChannelPacer(kv) });
  await bot.start();
  await ready;
  const eventsUrl = `${http.url}${SLACK_EVENTS_PATH}`;

  const harness: SlackHarness = {
    fake,
    redis,
    env,
    config,
    queue,
    results,
    kv,
    models,
    embeddedModel: model.embedded,
    http,
    bot,
    worker,
    workerLog,
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
    async jobCount() {
      const c = await queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
    async close() {
      await bot.stop().catch(() => undefined);
      if (worker && worker.exitCode === null) {
        const w = worker;
        const exited = new Promise((r) => w.once('exit', r));
        w.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (w.exitCode === null) w.kill('SIGKILL');
      }
      await http.close();
      await queue.close();
      await closeRedis(redisClient);
      await fake.close();
      await redis.stop();
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
