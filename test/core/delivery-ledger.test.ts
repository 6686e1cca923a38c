/** The delivery ledger: a result or failure notice is posted once, across re-runs and dead attempts. */
import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../src/delivery-ledger.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';

describe('DeliveryLedger', () => {
  it('posts once: a second call (a re-run) finds the done record and does not post', async () => {
    const ledger = new DeliveryLedger(new MemoryKeyValueStore(), { ttlS: 60 });
    let posts = 0;
    const post = async () => ({ messageId: `m${++posts}`, resultId: 'r1' });
    const first = await ledger.once('job1', 'attempt-1', 'result', post);
    const again = await ledger.once('job1', 'attempt-2', 'result', post);
    expect(posts).toBe(1);
    expect(first.posted).toBe(true);
    expect(again.posted).toBe(false);
    expect(again.record).toMatchObject({ state: 'done', outcome: 'result', messageId: 'm1', resultId: 'r1' });
    // A failure notice after a delivered result is not posted either.
    expect((await ledger.once('job1', 'attempt-3', 'failure', post)).posted).toBe(false);
  });

  it('a failed post releases the claim so the next attempt posts', async () => {
    const ledger = new DeliveryLedger(new MemoryKeyValueStore(), { ttlS: 60 });
    await expect(ledger.once('j', 'a1', 'result', async () => { throw new Error('503'); })).rejects.toThrow('503');
    expect(await ledger.get('j')).toBeNull();
    expect((await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'ok' }))).record.messageId).toBe('ok');
  });

  it('a claim left by a dead attempt is taken over (and reported), so the result is not lost', async () => {
    const kv = new MemoryKeyValueStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60, onTakeover: (jobId, prev) => takeovers.push([jobId, prev.state === 'posting' ? prev.owner : '']) });
    const takeovers: Array<[string, string]> = [];
    await kv.set('delivery:j', JSON.stringify({ state: 'posting', owner: 'dead-worker', outcome: 'result', at: 1 }), 60);
    const out = await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'm' }));
    expect(out.posted).toBe(true);
    expect(takeovers).toEqual([['j', 'dead-worker']]);
  });
});
