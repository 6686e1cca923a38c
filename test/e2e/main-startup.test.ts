/**
 * `src/root/main.ts` as users and operators start it (a child process, environment only):
 * bad configuration stops it with one line and exit code 1; secrets never reach its output;
 * the bot refuses a Redis that evicts keys (unless told it may); and the fleet halves
 * (`--role=bot` and `--role=worker` on one Redis) serve the playground together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { modelEnv, spawnApp, startApp, type AppProcess } from '../../kit/app-process.ts';
import { FakeSlack } from '../../kit/fake-slack.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';

const temp = mkdtempSync(path.join(os.tmpdir(), 'main-startup-'));
const models = modelEnv(temp);
const running: AppProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop('SIGKILL')));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Run to completion; the process must exit by itself. */
async function runToExit(env: Record<string, string>, args: string[] = []) {
  const app = spawnApp(env, args);
  const code = await Promise.race([app.exited, new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000))]);
  if (typeof code === 'string') await app.stop('SIGKILL');
  return { code, stdout: app.stdout(), stderr: app.stderr() };
}

async function launch(env: Record<string, string>, args: string[] = []): Promise<AppProcess> {
  const app = await startApp({ ...models, ...env }, args);
  running.push(app);
  return app;
}

const BOT_TOKEN = 'xoxb-4242424242-1717171717-SeCrEtBoTtOkEnVaLuE';
const SIGNING_SECRET = 'sEcReT-sIgNiNg-VaLuE-0123456789';
const DISCORD_TOKEN = 'MTAxMjM0NTY3ODkwMTIzNDU2.GhIjKl.SeCrEtDiScOrDtOkEnVaLuE0123456789abcd';

describe('refusing bad configuration', () => {
  it('a bad variable: exit 1 and one line on stderr naming it, no stack, nothing on stdout', async () => {
    const { code, stdout, stderr } = await runToExit({ PORT: 'eighty' });
    expect(code).toBe(1);
    expect(stderr).toBe('Invalid configuration: PORT must be a whole number from 0 to 65535\n');
    expect(stdout).toBe('');
  });

  it('a missing companion variable is named, and the secret that needs it is not echoed', async () => {
    const { code, stdout, stderr } = await runToExit({ DISCORD_TOKEN });
    expect(code).toBe(1);
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(/^Invalid configuration: DISCORD_APP_ID is required when DISCORD_TOKEN is set/);
    expect(stderr + stdout).not.toContain(DISCORD_TOKEN);
    expect(stderr + stdout).not.toContain('SeCrEt');
  });

  it('a bad role, and the fleet halves without REDIS_URL, are refused the same way', async () => {
    const bad = await runToExit({}, ['--role=gpu']);
    expect([bad.code, bad.stderr]).toEqual([1, 'Invalid --role "gpu": use all, bot or worker\n']);
    for (const role of ['bot', 'worker']) {
      const r = await runToExit({}, [`--role=${role}`]);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^Invalid configuration: REDIS_URL \\(or REDIS_CLUSTER_NODES\\) is required for --role=${role} `));
    }
  });

  it('a model folder that is not there is named in one line', async () => {
    const { code, stderr } = await runToExit({ MODEL_DIR: path.join(temp, 'no-such-model') });
    expect(code).toBe(1);
    expect(stderr).toBe(`${path.join(temp, 'no-such-model', 'model_index.json')}: file not found\n`);
  });

  it('WORKER_MODELS naming a model the catalog lacks stops start-up in one line naming it and the catalog', async () => {
    const { code, stdout, stderr } = await runToExit({ WORKER_MODELS: 'tiny,sdxl-base' });
    expect(code).toBe(1);
    expect(stderr).toBe('WORKER_MODELS: "sdxl-base" is not in the model catalog (tiny, tiny-xl)\n');
    expect(stdout).toBe('');
  });
});

describe('secrets stay out of the output', () => {
  let slack: FakeSlack;
  beforeAll(async () => {
    slack = await FakeSlack.start({ botToken: BOT_TOKEN });
  });
  afterAll(async () => {
    await slack?.close();
  });

  it('starting with Slack tokens at debug log level prints what is on, never the tokens', async () => {
    const app = await launch({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, LOG_LEVEL: 'debug', ARTIFACT_DIR: path.join(temp, 'a1') });
    const out = app.stdout();
    expect(out).toContain('imagine-bot is running (role all)');
    expect(out).toMatch(/adapters: +slack \(HTTP, \/slack\/events\)\n/);
    expect(out).toMatch(/queue: +in-process \(no REDIS_URL\)\n/);
    expect(out).toMatch(/model: +tiny \(/);
    expect(out).toMatch(/provider: +cpu \(asked for cpu\)\n/);
    expect(out).toMatch(/listening: 127\.0\.0\.1:\d+ \(this machine only; set HOST=0\.0\.0\.0 to accept other machines\)\n/);
    // Beside Slack the playground is opt-in: none of it answers, everything else does.
    expect(out).toContain('playground: off (Discord or Slack is configured; WEB_PLAYGROUND=on turns it on)');
    expect(out).not.toContain('Open the playground');
    const base = `http://127.0.0.1:${app.port}`;
    for (const p of ['/', '/api/info', '/static/app.js']) expect((await fetch(base + p)).status, p).toBe(404);
    expect((await fetch(`${base}/api/command`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"/imagine a cat"}' })).status).toBe(404);
    for (const p of ['/healthz', '/readyz', '/metrics']) expect((await fetch(base + p)).status, p).toBe(200);
    // /slack/events is Bolt's: an unsigned request is refused there, not missing.
    expect((await fetch(`${base}/slack/events`, { method: 'POST', body: 'token=x' })).status).toBe(401);
    // Slack answered auth.test with the token: the bot really used it.
    expect(slack.calls.some((c) => c.method === 'auth.test' && c.token === BOT_TOKEN)).toBe(true);
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, '1717171717-SeCrEt', 'sIgNiNg']) expect(app.stdout() + app.stderr()).not.toContain(secret);
    expect(await app.stop('SIGTERM')).toBe(0);
    for (const secret of [BOT_TOKEN, SIGNING_SECRET]) expect(app.stdout() + app.stderr()).not.toContain(secret);
  });

  it('PUBLIC_URL beside Slack serves the region editor for links from chat, without the playground', async () => {
    const app = await launch({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, PUBLIC_URL: 'https://imagine.example.com/', ARTIFACT_DIR: path.join(temp, 'a3') });
    expect(app.stdout()).toMatch(/adapters: +region editor \(links from chat\), slack \(HTTP, \/slack\/events\)\n/);
    expect(app.stdout()).toContain('playground: off (Discord or Slack is configured; WEB_PLAYGROUND=on turns it on)');
    const base = `http://127.0.0.1:${app.port}`;
    // The playground stays off; the editor answers, and a link it did not sign gets a page saying so.
    for (const p of ['/', '/api/info', '/static/app.js']) expect((await fetch(base + p)).status, p).toBe(404);
    expect((await fetch(`${base}/edit/static/editor.js`)).status).toBe(200);
    const forged = await fetch(`${base}/edit?link=eyJsIjoiYSJ9.c2lnbmF0dXJl`);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('This editor link is not valid here');
    expect((await fetch(`${base}/edit/api/submit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"link":"x.y","mask":""}' })).status).toBe(403);
    expect(await app.stop('SIGTERM')).toBe(0);
  });

  it('WEB_PLAYGROUND=on serves the playground beside Slack, behind WEB_ACCESS_KEY when set (and never prints the key)', async () => {
    const accessKey = 'AcCeSs-KeY-0123456789-sEcReT';
    const app = await launch({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, WEB_PLAYGROUND: 'on', WEB_ACCESS_KEY: accessKey, LOG_LEVEL: 'debug', ARTIFACT_DIR: path.join(temp, 'a2') });
    expect(app.stdout()).toMatch(/adapters: +web playground, slack \(HTTP, \/slack\/events\)\n/);
    expect(app.stdout()).toContain(`Open the playground: ${app.url}/?key=<WEB_ACCESS_KEY>`);
    expect((await fetch(`${app.url}/api/info`)).status).toBe(401);
    const opened = await fetch(`${app.url}/?key=${accessKey}`, { redirect: 'manual' });
    expect(opened.status).toBe(303);
    const cookie = opened.headers.get('set-cookie')!.split(';')[0];
    expect((await fetch(`${app.url}/api/info`, { headers: { cookie } })).status).toBe(200);
    expect(await app.stop('SIGTERM')).toBe(0);
    expect(app.stdout() + app.stderr()).not.toContain(accessKey);
  });
});

const haveRedis = redisServerAvailable();
if (!haveRedis) console.warn('SKIPPED: Redis start-up tests need redis-server or REDIS_URL');

describe.skipIf(!haveRedis)('Redis eviction policy', () => {
  let lru: TestRedis;
  beforeAll(async () => {
    lru = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
  });
  afterAll(async () => {
    await lru?.stop();
  });

  it('the bot refuses a Redis with maxmemory-policy allkeys-lru, in one line', async () => {
    const { code, stdout, stderr } = await runToExit({ ...models, REDIS_URL: lru.url, QUEUE_PREFIX: uniquePrefix('lru') }, ['--role=bot']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'Redis maxmemory-policy is allkeys-lru, but the job queue needs noeviction (an evicted key is a lost job): run CONFIG SET maxmemory-policy noeviction and set it in redis.conf, or set REDIS_ALLOW_EVICTION=1 for development\n',
    );
  });

  it('REDIS_ALLOW_EVICTION=1 downgrades the refusal to a warning', async () => {
    const app = await launch({ REDIS_URL: lru.url, QUEUE_PREFIX: uniquePrefix('lru'), REDIS_ALLOW_EVICTION: '1' }, ['--role=bot']);
    expect(app.stdout()).toContain('warning:   Redis maxmemory-policy is allkeys-lru; jobs may be lost under memory pressure (allowed by REDIS_ALLOW_EVICTION)');
    expect(await app.stop('SIGTERM')).toBe(0);
  });
});

describe.skipIf(!haveRedis)('the fleet halves on one Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a bot and a worker process: the playground on the bot gets the image the worker made', async () => {
    const shared = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('fleet'), ARTIFACT_DIR: path.join(temp, 'fleet-artifacts') };
    const [bot, worker] = await Promise.all([launch(shared, ['--role=bot']), launch(shared, ['--role=worker'])]);
    expect(bot.stdout()).toMatch(/adapters: +web playground\n/);
    expect(bot.stdout()).toMatch(/queue: +redis redis:\/\/127\.0\.0\.1:\d+ \(BullMQ \{t-fleet-[^}]+\}:imagine\)\n/);
    expect(bot.stdout()).not.toContain('provider:');
    expect(worker.stdout()).not.toContain('adapters:');
    expect(worker.stdout()).toMatch(/provider: +cpu /);

    const cookie = 'imagine_session=AAAAAAAAAAAAAAAAAAAAAA';
    const post = await fetch(`${bot.url}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ text: '/imagine a green square on a yellow background --n 2 --seed 77', requestId: 'fleet-request-1' }),
    });
    const reply = await post.json();
    expect(reply).toMatchObject({ kind: 'queued', position: expect.any(Number), duplicate: false });

    let gallery: { results: { jobId: string; gridUrl: string; images: { seed: number }[] }[] } = { results: [] };
    for (let i = 0; i < 600 && gallery.results.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gallery = await (await fetch(`${bot.url}/api/gallery`, { headers: { cookie } })).json();
    }
    expect(gallery.results).toHaveLength(1);
    expect(gallery.results[0].jobId).toBe(reply.jobId);
    expect(gallery.results[0].images.map((i) => i.seed)).toEqual([77, 78]);
    const image = await fetch(bot.url + gallery.results[0].gridUrl, { headers: { cookie } });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');

    // The worker's health endpoints answer on its own port.
    const ready = await fetch(`http://127.0.0.1:${worker.port}/readyz`);
    expect(await ready.json()).toEqual({ ready: true, checks: { model: true, redis: true } });
    // Queue depth on the worker's /metrics too (what dashboards and alerts read per worker).
    const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    expect(metrics).toMatch(/^imagine_queue_jobs\{state="completed"\} 1$/m);
    expect(metrics).toMatch(/^imagine_model_provider\{model="tiny",provider="cpu"\} 1$/m);
    expect([await bot.stop('SIGTERM'), await worker.stop('SIGTERM')]).toEqual([0, 0]);
  });

  it('a worker given platform tokens ignores them, names them in a warning (never their values), and runs', async () => {
    const slackToken = 'xoxb-worker-should-not-have-this';
    const shared = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix('fleet-tokens'), ARTIFACT_DIR: path.join(temp, 'fleet-token-artifacts') };
    const worker = await launch({ ...shared, DISCORD_TOKEN, DISCORD_APP_ID: '123456789012345678', SLACK_BOT_TOKEN: slackToken, SLACK_SIGNING_SECRET: 'signing-secret-1234' }, ['--role=worker']);
    const out = worker.stdout() + worker.stderr();
    expect(worker.stdout()).toContain('warning:   a worker posts nothing to chat platforms and ignores DISCORD_TOKEN, DISCORD_APP_ID, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET;');
    for (const secret of [DISCORD_TOKEN, slackToken, 'signing-secret-1234']) expect(out).not.toContain(secret);
    expect(worker.stdout()).toMatch(/provider: +cpu /);
    expect(await worker.stop('SIGTERM')).toBe(0);
  });
});
