/** The hold a bot puts on a job's status message while the deliverer waits (src/message-hold.ts). */
import { describe, expect, it } from 'vitest';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { MESSAGE_HOLD_TTL_S, MessageHold } from '../../src/message-hold.ts';

describe('MessageHold', () => {
  it('keeps the deliverer waiting until the bot releases, under the platform key', async () => {
    const kv = new MemoryKeyValueStore();
    const hold = new MessageHold('test:hold');
    await hold.hold(kv, 'evt-1');
    expect(await kv.get('test:hold:evt-1')).toBe('1');
    const started = Date.now();
    setTimeout(() => void hold.release(kv, 'evt-1'), 150);
    await hold.waitForRelease(kv, 'evt-1', 5_000, 10);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(2_000);
    expect(await kv.get('test:hold:evt-1')).toBeNull();
  });

  it('does not wait for another event, and gives up after the longest wait', async () => {
    const kv = new MemoryKeyValueStore();
    const hold = new MessageHold('test:hold');
    await hold.hold(kv, 'evt-1');
    let started = Date.now();
    await hold.waitForRelease(kv, 'evt-2', 5_000, 10);
    expect(Date.now() - started).toBeLessThan(100);
    started = Date.now();
    await hold.waitForRelease(kv, 'evt-1', 120, 10);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    expect(MESSAGE_HOLD_TTL_S).toBe(10);
  });
});
