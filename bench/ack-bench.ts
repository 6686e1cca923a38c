/**
 * Ack latency: how long a user waits for the first answer to /imagine when 200 arrive at once.
 * A bot process (`src/root/main.ts --role=bot`, as deployed) runs against a private Redis and a
 * loopback fake of the Slack Web API; this process fires 200 concurrent commands and times
 * each from sending to the complete HTTP response:
 *
 * - web adapter: POST /api/command from 200 browser sessions; the answer comes after the job
 *   is on the queue (it carries the place in line);
 * - Slack HTTP receiver: 200 signed slash-command requests to /slack/events from 200 users in
 *   200 channels; Bolt acknowledges before the bot touches Redis (Slack allows 3 s).
 *
 * The client runs in another process than the server, so the figures include loopback HTTP
 * and nothing of the client's own event loop stalls. Each path gets one unmeasured burst of
 * 200 first (JIT, Redis script loading, connection pools), so the figures are steady state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelEnv, startApp } from '../kit/app-process.ts';
import { FakeSlack } from '../kit/fake-slack.ts';
import { uniquePrefix } from '../kit/queue-prefix.ts';
import { startRedis } from '../kit/redis-server.ts';
import { slashPayload } from '../kit/slack-payloads.ts';
import { FORM, formBody, postSigned } from '../kit/slack-signing.ts';
import type { BenchFigure } from './figure.ts';

const CONCURRENT = 200;
const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const BOT_TOKEN = 'xoxb-0000000000-0000000000-benchbenchbenchbench';

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function timed(send: () => Promise<{ ok: boolean; status: number }>): Promise<number> {
  const start = performance.now();
  const res = await send();
  const ms = performance.now() - start;
  if (!res.ok) throw new Error(`request failed with HTTP ${res.status}`);
  return ms;
}

export async function run(): Promise<BenchFigure[]> {
  // The test Redis is an unref'd child: awaiting its exit alone would let Node end the process early.
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    return await measure();
  } finally {
    clearInterval(keepAlive);
  }
}

async function measure(): Promise<BenchFigure[]> {
  const temp = mkdtempSync(path.join(os.tmpdir(), 'ack-bench-'));
  const redis = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
  const slack = await FakeSlack.start({ botToken: BOT_TOKEN });
  const bot = await startApp(
    {
      ...modelEnv(temp),
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('ack-bench'),
      ARTIFACT_DIR: path.join(temp, 'artifacts'),
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      LIMIT_QUEUE_DEPTH: '100000',
      // Slack is configured, so the playground is opt-in; each session poses as its own client
      // behind one proxy, or the per-address limit would refuse all but a few of them.
      WEB_PLAYGROUND: 'on',
      TRUST_PROXY: '1',
      LOG_LEVEL: 'error',
    },
    ['--role=bot'],
  );
  try {
    const session = (i: number) => `imagine_session=${`bench${String(i).padStart(6, '0')}`.padEnd(22, 'x')}`;
    const web = (i: number) => () =>
      fetch(`${bot.url}/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: session(i), 'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
        body: JSON.stringify({ text: `/imagine a red circle on a blue background --seed ${i}`, requestId: `bench-request-${i}` }),
      }).then(async (r) => ({ ok: r.ok && (await r.json()).kind === 'queued', status: r.status }));

    const slash = (i: number) => () => {
      const { fields } = slashPayload(slack, `a red circle on a blue background --seed ${i}`, { user: `U0BENCH${i}`, channel: `C0BENCH${i}` });
      return postSigned(`${bot.url}/slack/events`, SIGNING_SECRET, formBody(fields), FORM).then((r) => ({ ok: r.status === 200, status: r.status }));
    };

    const burst = (make: (i: number) => () => Promise<{ ok: boolean; status: number }>, from: number) =>
      Promise.all(Array.from({ length: CONCURRENT }, (_, i) => timed(make(from + i))));
    await burst(web, 1_000_000);
    const webMs = await burst(web, 0);
    await burst(slash, 1_000_000);
    const slackMs = await burst(slash, 0);

    const note = `${CONCURRENT} concurrent after a warm-up burst, bot process on Redis, loopback`;
    return [
      { name: 'ack latency p50, web adapter', value: percentile(webMs, 50), unit: 'ms', note },
      { name: 'ack latency p99, web adapter', value: percentile(webMs, 99), unit: 'ms', note },
      { name: 'ack latency p50, Slack HTTP receiver', value: percentile(slackMs, 50), unit: 'ms', note: `${note}, signed requests` },
      { name: 'ack latency p99, Slack HTTP receiver', value: percentile(slackMs, 99), unit: 'ms', note: `${note}, signed requests` },
    ];
  } finally {
    await bot.stop('SIGKILL');
    await slack.close();
    await redis.stop();
    rmSync(temp, { recursive: true, force: true });
  }
}
