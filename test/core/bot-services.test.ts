/**
 * What every chat adapter shares: the per-event command context, the store lookups in
 * commands/bot-services.ts, and deciding a pressed button from what they found.
 */
import { describe, expect, it } from 'vitest';
import { commandContext } from '../../commands/context.ts';
import { decideAction } from '../../commands/result-action.ts';
import type { ActionRef } from '../../src/actions.ts';
import { jobPayloadLookup, lookUpAction } from '../../commands/bot-services.ts';
import { loadConfig } from '../../src/root/config.ts';
import { MAX_SEED } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createModelCatalog } from '../../src/models.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { ResultStore } from '../../src/results.ts';
import { context, origin, storedResult, TINY, wordTokenCounter } from '../support/command-context.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { discordCommandRules } from '../../adapters/discord/command-rules.ts';

describe('commandContext', () => {
  const env = { limits: context().limits, platformRules: discordCommandRules, models: createModelCatalog([TINY], 'tiny'), countTokens: wordTokenCounter };

  it('carries the environment and the origin, with the time of the event', () => {
    const before = Date.now();
    const ctx = commandContext({ ...env, randomSeed: () => 7 }, origin({ userId: 'u9' }));
    expect(ctx.origin).toEqual(origin({ userId: 'u9' }));
    expect(ctx.limits).toBe(env.limits);
    expect(ctx.models).toBe(env.models);
    expect(ctx.countTokens).toBe(wordTokenCounter);
    expect(ctx.randomSeed()).toBe(7);
    // The platform's rules: Discord's help command, and the roles its origin data names.
    expect(ctx.helpCommand).toBe('/help');
    expect(ctx.roles).toEqual([]);
    expect(commandContext(env, origin({ platformData: { applicationId: '9', roleIds: ['5', '901'] } })).roles).toEqual(['5', '901']);
    // Another platform's origin carries no Discord roles, whatever its data says.
    expect(commandContext(env, origin({ platform: 'slack', platformData: { roleIds: ['5'] } })).roles).toEqual([]);
    expect(ctx.now).toBeGreaterThanOrEqual(before);
    expect(ctx.now).toBeLessThanOrEqual(Date.now());
  });

  it('draws seeds over the whole seed range when no source is injected', () => {
    const ctx = commandContext(env, origin());
    const drawn = Array.from({ length: 200 }, () => ctx.randomSeed());
    for (const seed of drawn) expect(Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED).toBe(true);
    expect(new Set(drawn).size).toBeGreaterThan(190);
    // Uniform over 2^32 values: some seed above 2^31 is all but certain in 200 draws.
    expect(drawn.some((s) => s > 2 ** 31)).toBe(true);
  });
});

describe('jobPayloadLookup', () => {
  it('reads a kept job from the in-process queue, and null for an unknown one', async () => {
    const queue = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent' }), secrets: new MemoryKeyValueStore() });
    const payload = txt2imgPayload({ seed: 9 });
    const queued = await queue.enqueue(payload);
    if (!queued.ok) throw new Error(queued.message);
    const lookup = jobPayloadLookup(queue);
    expect(await lookup(queued.jobId)).toEqual(payload);
    expect(await lookup('no-such-job')).toBeNull();
    await queue.close();
  });

  it('is the queue\'s own lookup: every queue answers it (the conformance suite holds both backends to it)', async () => {
    const queue = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent' }), secrets: new MemoryKeyValueStore() });
    const queued = await queue.enqueue(txt2imgPayload({ seed: 11 }));
    if (!queued.ok) throw new Error(queued.message);
    expect(await jobPayloadLookup(queue)(queued.jobId)).toEqual(await queue.jobPayload(queued.jobId));
    expect(await jobPayloadLookup(queue)('no-such-job')).toBeNull();
    await queue.close();
  });
});

describe('a pressed button, from the stores alone', () => {
  async function stores() {
    const kv = new MemoryKeyValueStore();
    const queue = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent' }), secrets: kv });
    const results = new ResultStore(kv);
    await results.save(storedResult(), 60);
    // The requester's queued job, as the stored result's requester (u1 in g1 on Discord).
    // On sd15, whose size budget its 512x512 fits: Retry checks a job against the model's limits.
    const fixture = txt2imgPayload({ origin: { platform: 'discord', workspaceId: 'g1', channelId: 'c1', userId: 'u1' } });
    const queued = await queue.enqueue({ ...fixture, params: { ...fixture.params, model: 'sd15' } });
    if (!queued.ok) throw new Error(queued.message);
    return { queue, results, jobId: queued.jobId, jobPayload: jobPayloadLookup(queue) };
  }

  it('looks up only what the action needs', async () => {
    const s = await stores();
    expect(await lookUpAction(s, { action: 'vary-subtle', resultId: 'res-1', index: 2 }, 'u1')).toEqual({ result: storedResult() });
    expect(await lookUpAction(s, { action: 'delete', resultId: 'res-gone' }, 'u1')).toEqual({ result: null });
    const mine = await lookUpAction(s, { action: 'cancel', jobId: s.jobId }, 'u1');
    expect(mine.jobs?.map((j) => j.jobId)).toEqual([s.jobId]);
    expect(await lookUpAction(s, { action: 'cancel', jobId: s.jobId }, 'someone-else')).toEqual({ jobs: [] });
    expect((await lookUpAction(s, { action: 'retry', jobId: s.jobId }, 'u1')).failed?.params.seed).toBe(42);
    expect(await lookUpAction({ ...s, jobPayload: undefined }, { action: 'retry', jobId: s.jobId }, 'u1')).toEqual({ failed: null });
    await s.queue.close();
  });

  it('decides each button as its command does', async () => {
    const s = await stores();
    const ctx = context({ randomSeed: () => 555 });
    const decide = async (ref: ActionRef) => decideAction(ref, await lookUpAction(s, ref, 'u1'), ctx);

    const subtle = await decide({ action: 'vary-subtle', resultId: 'res-1', index: 2 });
    expect(subtle).toMatchObject({ kind: 'job', payload: { kind: 'variation', mode: 'subtle', source: { resultId: 'res-1', index: 2 } } });
    for (const action of ['variation', 'vary-strong'] as const) {
      expect(await decide({ action, resultId: 'res-1', index: 1 })).toMatchObject({ kind: 'job', payload: { kind: 'variation', mode: 'strong', source: { index: 1 } } });
    }
    expect(await decide({ action: 'upscale', resultId: 'res-1', index: 3 })).toMatchObject({ kind: 'job', payload: { kind: 'upscale', source: { index: 3 } } });
    expect(await decide({ action: 'reseed', resultId: 'res-1' })).toMatchObject({ kind: 'job', payload: { kind: 'txt2img', parentResultId: 'res-1', params: { seed: 555 } } });
    expect(await decide({ action: 'delete', resultId: 'res-1' })).toEqual({ kind: 'delete', resultId: 'res-1', messageId: 'msg-0', summary: 'Removed.' });
    expect(await decide({ action: 'cancel', jobId: s.jobId })).toEqual({ kind: 'cancel', jobIds: [s.jobId], summary: 'Cancelling your job.' });
    expect(await decide({ action: 'retry', jobId: s.jobId })).toMatchObject({ kind: 'job', payload: { kind: 'txt2img', params: { seed: 42 } } });
    expect(await decide({ action: 'upscale', resultId: 'res-gone', index: 0 })).toMatchObject({ kind: 'message', code: 'expired' });
    expect(await decide({ action: 'retry', jobId: 'job-gone' })).toMatchObject({ kind: 'message', code: 'expired' });
    await s.queue.close();
  });

  it('counts a press only on the message that shows its result or job', async () => {
    const s = await stores();
    const ctx = context({ randomSeed: () => 555 });
    const statusMessages = new Map([[s.jobId, 'status-1']]);
    const pressOn = async (ref: ActionRef, messageId: string) =>
      decideAction(ref, await lookUpAction(s, ref, 'u1', async (jobId) => statusMessages.get(jobId) ?? null), ctx, messageId);
    const wrong = { kind: 'message', code: 'wrong-message', message: 'This button does not belong to this message, so nothing was done.' };

    // storedResult() is shown by msg-0.
    expect(await pressOn({ action: 'delete', resultId: 'res-1' }, 'msg-0')).toMatchObject({ kind: 'delete' });
    expect(await pressOn({ action: 'delete', resultId: 'res-1' }, 'someone-elses')).toMatchObject(wrong);
    expect(await pressOn({ action: 'upscale', resultId: 'res-1', index: 0 }, 'someone-elses')).toMatchObject(wrong);
    expect(await pressOn({ action: 'cancel', jobId: s.jobId }, 'status-1')).toMatchObject({ kind: 'cancel' });
    expect(await pressOn({ action: 'cancel', jobId: s.jobId }, 'msg-0')).toMatchObject(wrong);
    expect(await pressOn({ action: 'retry', jobId: s.jobId }, 'msg-0')).toMatchObject(wrong);

    // Posted but its message id not yet recorded: new jobs go ahead, ✖ waits.
    const { messageId: _shown, ...unposted } = storedResult();
    await s.results.save({ ...unposted, resultId: 'res-unposted' }, 60);
    expect(await pressOn({ action: 'variation', resultId: 'res-unposted', index: 0 }, 'new-message')).toMatchObject({ kind: 'job' });
    expect(await pressOn({ action: 'delete', resultId: 'res-unposted' }, 'new-message')).toMatchObject({ code: 'wrong-message', message: 'This result is still being posted; try again in a moment.' });
    // A status message no longer known cannot be compared: Cancel still acts only on the presser's own jobs.
    statusMessages.clear();
    expect(await pressOn({ action: 'cancel', jobId: s.jobId }, 'msg-0')).toMatchObject({ kind: 'cancel' });
    await s.queue.close();
  });
});
