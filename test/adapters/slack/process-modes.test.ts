/**
 * /imagine on Slack works the same however the product is run, through the real process
 * entry (src/root/main.ts) as users start it:
 *   - one process, no Redis (`npm start`: in-process queue, worker and bot together);
 *   - separate processes on a shared Redis (`npm run bot` + `npm run worker`).
 * The same signed requests go to each one's /slack/events and the same things must happen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAction } from '../../../src/actions.ts';
import { workerEnvironment } from '../../support/e2e-stack.ts';
import { FakeSlack, type FakeSlackMessage } from '../../../kit/fake-slack.ts';
import { uniquePrefix } from '../../../kit/queue-prefix.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../../kit/redis-server.ts';
import { actionLabels, ALICE, CHANNEL, modelEnv, pressPayload, resultMessages, SIGNING_SECRET, slashPayload } from '../../support/slack-harness.ts';
import { FORM, formBody, interactionBody, postSigned } from '../../../kit/slack-signing.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface RunningProcess {
  child: ChildProcess;
  port: number;
  log: string[];
}

/**
 * `node --import tsx src/root/main.ts [--role=...]`, resolved once it prints its health URL. A
 * worker gets no platform variable at all (workerEnvironment): the bot posts what it stores.
 */
function startProcess(args: string[], env: Record<string, string>): Promise<RunningProcess> {
  const merged = { ...process.env, ...env };
  const childEnv = args.includes('--role=worker') ? workerEnvironment(merged) : merged;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/root/main.ts'), ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`src/root/main.ts ${args.join(' ')} did not start:\n${log.join('').slice(-3000)}`)), 90_000);
    child.stdout!.on('data', (d: Buffer) => {
      log.push(d.toString());
      out += d.toString();
      const m = /health: +http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), log });
      }
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`src/root/main.ts ${args.join(' ')} exited (${code}):\n${log.join('').slice(-3000)}`));
    });
  });
}

async function stopProcess(p: RunningProcess | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

function baseEnv(fake: FakeSlack, dir: string): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    ARTIFACT_DIR: path.join(dir, 'artifacts'),
    PORT: '0',
    PROGRESS_INTERVAL_MS: '5',
    PROGRESS_PREVIEW: 'off',
    ORT_THREADS: '1',
    WORKER_BATCHING: 'off',
    LOG_LEVEL: process.env.E2E_LOG ?? 'error',
    ...modelEnv(dir).env,
  };
}

/** The same conversation for every mode: /imagine, the thread, the upload and buttons, then V1. */
async function imagineThenV1(fake: FakeSlack, eventsUrl: string): Promise<void> {
  const prompt = 'a white square on a red background';
  const { fields, responseUrl } = slashPayload(fake, `${prompt} --seed 21 --n 2`);
  const ack = await postSigned(eventsUrl, SIGNING_SECRET, formBody(fields), FORM);
  expect(ack.status).toBe(200);
  expect(ack.ms).toBeLessThan(3000);
  expect(ack.json()).toMatchObject({ response_type: 'ephemeral' });
  expect(ack.json().text).toMatch(/^⏳ Queuing: .*seed 21/);

  const parent = await fake.waitFor('the parent message', () => fake.messages.find((m) => !m.thread_ts && m.text === `<@${ALICE}> asked for: ${prompt}`));
  const [result] = await fake.waitFor('the result', () => {
    const r = resultMessages(fake, CHANNEL, parent.ts);
    return r.length ? r : null;
  }, 90_000);
  const upload = fake.uploads.find((u) => u.thread_ts === parent.ts && u.completed)!;
  expect((await sharp(upload.bytes!).metadata()).format).toBe('png');
  expect(actionLabels(result)).toEqual([['U1', 'U2'], ['V1', 'V2'], ['🔄', '✖']]);
  const answer = await fake.waitFor('the position', () => fake.responseUrlPosts(responseUrl)[0]);
  expect(answer.body.text).toMatch(/^(⏳ Queued — position 1|⚙️ Starting…) · /);

  // Buttons carry the result id, and the result is stored before its delivery is handed over: V1 works at once.
  const v1Target = decodeAction(result.blocks!.find((b) => b.type === 'actions' && b.elements[0].text.text === 'V1').elements[0].action_id);
  expect(v1Target).toMatchObject({ action: 'variation', index: 0 });
  const press = pressPayload(fake, result as FakeSlackMessage, 'V1');
  const pressed = await postSigned(eventsUrl, SIGNING_SECRET, interactionBody(press.payload), FORM);
  expect(pressed.status).toBe(200);
  const results = await fake.waitFor('the variation', () => {
    const r = resultMessages(fake, CHANNEL, parent.ts);
    return r.length >= 2 ? r : null;
  }, 90_000);
  expect(JSON.stringify(results[1].blocks)).toContain('Strong variation of image 1');
}

describe('Slack /imagine in the one-process local mode (npm start, no Redis)', () => {
  let fake: FakeSlack;
  let app: RunningProcess | undefined;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slack-local-'));
    app = await startProcess([], baseEnv(fake, dir));
  }, 120_000);
  afterAll(async () => {
    await stopProcess(app);
    await fake?.close();
  });

  it('runs /imagine and V1 end to end', async () => {
    await imagineThenV1(fake, `http://127.0.0.1:${app!.port}/slack/events`);
  });
});

const redisAvailable = redisServerAvailable();
if (!redisAvailable) console.warn('SKIPPED: the separate bot and worker processes test needs redis-server or REDIS_URL');

describe.skipIf(!redisAvailable)('Slack /imagine with separate bot and worker processes (npm run bot + npm run worker, the worker without any platform variable)', () => {
  let fake: FakeSlack;
  let redis: TestRedis;
  let bot: RunningProcess | undefined;
  let worker: RunningProcess | undefined;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    redis = await startRedis();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slack-fleet-'));
    const env = { ...baseEnv(fake, dir), REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('slack-fleet') };
    [bot, worker] = await Promise.all([startProcess(['--role=bot'], env), startProcess(['--role=worker'], env)]);
  }, 120_000);
  afterAll(async () => {
    await stopProcess(bot);
    await stopProcess(worker);
    await fake?.close();
    await redis?.stop();
  });

  it('runs /imagine and V1 end to end', async () => {
    await imagineThenV1(fake, `http://127.0.0.1:${bot!.port}/slack/events`);
  });
});
