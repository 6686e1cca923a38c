/**
 * The delivery ledger's companion writes: what travels with the claim and with the `done`
 * mark (the stored result, the message index) lands with them, in one batch each, and the
 * exactly-once rules are unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { KeyValueStore, KvWrite } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { DeliveryLedger, UnmarkedPostError } from '../../src/delivery-ledger.ts';

/** A memory store that records every batch and single call it gets, and can fail the next N batches. */
class RecordingStore extends MemoryKeyValueStore {
  readonly calls: string[] = [];
  failBatches = 0;

  override async setMany(writes: readonly KvWrite[]): Promise<boolean[]> {
    this.calls.push(`setMany ${writes.map((w) => `${w.ifAbsent ? 'nx ' : ''}${w.key}`).join(', ')}`);
    if (this.failBatches > 0) {
      this.failBatches--;
      throw new Error('connection lost');
    }
    return super.setMany(writes);
  }
  override async setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean> {
    this.calls.push(`setIfAbsent ${key}`);
    return super.setIfAbsent(key, value, ttlS);
  }
  override async set(key: string, value: string, ttlS: number): Promise<void> {
    this.calls.push(`set ${key}`);
    return super.set(key, value, ttlS);
  }
}

const resultWrite: KvWrite = { key: 'result:r1', value: 'stored', ttlS: 60 };
const markWrites = (messageId?: string): KvWrite[] => (messageId ? [{ key: `by-message:${messageId}`, value: 'r1', ttlS: 60 }] : []);

describe('DeliveryLedger companions', () => {
  it('a first delivery is two batches: result + claim, then mark + message index', async () => {
    const kv = new RecordingStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60 });
    const out = await ledger.once('j1', 'a1', 'result', async () => ({ messageId: 'm1', resultId: 'r1' }), { claim: [resultWrite], mark: (rec) => markWrites(rec.messageId) });
    expect(out).toMatchObject({ posted: true, record: { state: 'done', messageId: 'm1', resultId: 'r1' } });
    expect(kv.calls).toEqual(['setMany result:r1, nx delivery:j1', 'setMany delivery:j1, by-message:m1']);
    expect(await kv.get('result:r1')).toBe('stored');
    expect(await kv.get('by-message:m1')).toBe('r1');
    expect(await ledger.delivered('j1')).toMatchObject({ state: 'done', messageId: 'm1' });
  });

  it('a re-run of a delivered job writes its claim companions but never posts or marks', async () => {
    const kv = new RecordingStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60 });
    await ledger.once('j1', 'a1', 'result', async () => ({ messageId: 'm1', resultId: 'r1' }));
    kv.calls.length = 0;
    let posts = 0;
    const again = await ledger.once('j1', 'a2', 'result', async () => ({ messageId: `m${++posts}` }), { claim: [{ ...resultWrite, value: 'regenerated' }], mark: (rec) => markWrites(rec.messageId) });
    expect(posts).toBe(0);
    expect(again).toMatchObject({ posted: false, record: { messageId: 'm1' } });
    expect(kv.calls).toEqual(['setMany result:r1, nx delivery:j1']);
    expect(await kv.get('result:r1')).toBe('regenerated');
    expect(await kv.get('by-message:m2')).toBeNull();
  });

  it('a failed post releases the claim; the companions already written stay, and the next attempt posts', async () => {
    const kv = new RecordingStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60 });
    await expect(ledger.once('j', 'a1', 'result', async () => { throw new Error('503'); }, { claim: [resultWrite] })).rejects.toThrow('503');
    expect(await ledger.get('j')).toBeNull();
    expect(await kv.get('result:r1')).toBe('stored');
    const out = await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'ok' }), { claim: [resultWrite], mark: (rec) => markWrites(rec.messageId) });
    expect(out.posted).toBe(true);
    expect(await kv.get('by-message:ok')).toBe('r1');
  });

  it('a takeover claims with a plain set after reading the dead attempt’s record', async () => {
    const kv = new RecordingStore();
    const takeovers: string[] = [];
    const ledger = new DeliveryLedger(kv, { ttlS: 60, onTakeover: (_j, prev) => takeovers.push(prev.state) });
    await kv.set('delivery:j', JSON.stringify({ state: 'posting', owner: 'dead', outcome: 'result', at: 1 }), 60);
    kv.calls.length = 0;
    const out = await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'm' }), { claim: [resultWrite] });
    expect(out.posted).toBe(true);
    expect(takeovers).toEqual(['posting']);
    expect(kv.calls).toEqual(['setMany result:r1, nx delivery:j', 'set delivery:j', 'setMany delivery:j']);
  });

  it('the mark and its companions are retried together when the store fails, then the post counts as delivered', async () => {
    const kv = new RecordingStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60, markAttempts: 3 });
    let posts = 0;
    const post = async () => {
      posts++;
      kv.failBatches = 2; // the mark fails twice after the post succeeded
      return { messageId: 'm9' };
    };
    const out = await ledger.once('j', 'a1', 'result', post, { mark: (rec) => markWrites(rec.messageId) });
    expect(posts).toBe(1);
    expect(out.posted).toBe(true);
    expect(kv.calls.filter((c) => c === 'setMany delivery:j, by-message:m9')).toHaveLength(3);
    expect(await kv.get('by-message:m9')).toBe('r1');
    expect(await ledger.delivered('j')).toMatchObject({ messageId: 'm9' });
  });

  it('a mark that keeps failing after the post says the post was made (UnmarkedPostError), so no one runs it again', async () => {
    const kv = new RecordingStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60, markAttempts: 2 });
    const post = async () => {
      kv.failBatches = 5;
      return { messageId: 'm9' };
    };
    const err = await ledger.once('j', 'a1', 'result', post, { mark: (rec) => markWrites(rec.messageId) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnmarkedPostError);
    expect(err).toMatchObject({ jobId: 'j', message: expect.stringMatching(/^job j was posted, but its delivery record could not be marked done: /) });
    expect(kv.calls.filter((c) => c === 'setMany delivery:j, by-message:m9')).toHaveLength(2);
  });

  it('a store without batch methods gets the same writes, one call each', async () => {
    const inner = new MemoryKeyValueStore();
    const plain: KeyValueStore = { get: (k) => inner.get(k), set: (k, v, t) => inner.set(k, v, t), setIfAbsent: (k, v, t) => inner.setIfAbsent(k, v, t), del: (k) => inner.del(k) };
    const ledger = new DeliveryLedger(plain, { ttlS: 60 });
    const out = await ledger.once('j', 'a1', 'result', async () => ({ messageId: 'm' }), { claim: [resultWrite], mark: (rec) => markWrites(rec.messageId) });
    expect(out.posted).toBe(true);
    expect(await inner.get('result:r1')).toBe('stored');
    expect(await inner.get('by-message:m')).toBe('r1');
  });
});
