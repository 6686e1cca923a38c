/**
 * Discord through the real process entry as a fleet runs it: `npm run bot` (the discord.js
 * client and the delivery side) and `npm run worker` started without any platform variable,
 * on one Redis, against the loopback fake Discord. The worker stores the grid; the bot
 * process posts it with its buttons, and a button press runs a job whose result the bot posts
 * too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess } from '../../../kit/app-process.ts';
import { hasResult } from '../../support/discord-harness.ts';
import { modelEnv, workerEnvironment } from '../../support/e2e-stack.ts';
import { FakeDiscord, type FakeMessage } from '../../support/fake-discord.ts';
import { uniquePrefix } from '../../../kit/queue-prefix.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../../kit/redis-server.ts';

const redisAvailable = redisServerAvailable();
if (!redisAvailable) console.warn('SKIPPED: the Discord bot + worker processes test needs redis-server or REDIS_URL');

describe.skipIf(!redisAvailable)('Discord /imagine with separate bot and worker processes, the worker without any platform variable', () => {
  let fake: FakeDiscord;
  let redis: TestRedis;
  let dir: string;
  let bot: AppProcess | undefined;
  let worker: AppProcess | undefined;

  beforeAll(async () => {
    fake = await FakeDiscord.start();
    redis = await startRedis();
    dir = mkdtempSync(path.join(os.tmpdir(), 'discord-fleet-'));
    const env: Record<string, string> = {
      DISCORD_TOKEN: fake.token,
      DISCORD_APP_ID: fake.applicationId,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_IDS: fake.guildId,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('discord-fleet'),
      ARTIFACT_DIR: path.join(dir, 'artifacts'),
      PROGRESS_INTERVAL_MS: '5',
      PROGRESS_PREVIEW: 'off',
      ORT_THREADS: '1',
      WORKER_BATCHING: 'off',
      ...modelEnv(dir, 'discord-fleet').env,
    };
    const workerEnv = workerEnvironment(env);
    expect(Object.keys(workerEnv).filter((k) => /^(DISCORD|SLACK)_/.test(k))).toEqual([]);
    [bot, worker] = await Promise.all([startApp(env, ['--role=bot']), startApp(workerEnv, ['--role=worker'])]);
  }, 120_000);
  afterAll(async () => {
    await bot?.stop('SIGTERM');
    await worker?.stop('SIGTERM');
    await fake?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('posts the 2x2 grid with its buttons, and V1 posts its variation', async () => {
    const user = fake.user('3000000000000000001', 'alice');
    const prompt = 'a red circle on a blue background';
    const slash = fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: `${prompt} --n 4 --seed 7 --steps 6` }], user });
    const grid: FakeMessage = await fake.waitFor(() => hasResult(fake.messages.get(slash.originalMessageId ?? '')), 'the grid', 90_000);
    expect((await sharp(grid.files[0].data).metadata()).format).toBe('png');
    expect(grid.content).toContain('`seeds 7, 8, 9, 10`');
    const labels = grid.components.map((row: any) => row.components.map((c: any) => c.label as string));
    expect(labels).toEqual([['U1', 'U2', 'U3', 'U4'], ['V1', 'V2', 'V3', 'V4'], ['🔄', '✖']]);
    // Progress edits reached the message too, relayed by the bot from the worker's steps.
    expect(fake.callsTo('PATCH', new RegExp(`/${slash.token}/messages/`)).some((c) => /Step \d+\/\d+/.test(c.body?.content ?? ''))).toBe(true);

    const v1 = grid.components[1].components[0].custom_id as string;
    const press = fake.pressButton({ messageId: grid.id, customId: v1, user });
    const variation = await fake.waitFor(
      () => [...fake.messages.values()].filter((m) => m.interactionId === press.id && m.id !== press.originalMessageId).map(hasResult).find(Boolean),
      'the variation',
      90_000,
    );
    expect(variation!.files).toHaveLength(1);
    expect(worker!.stdout() + worker!.stderr()).not.toContain(fake.token);
  });
});
