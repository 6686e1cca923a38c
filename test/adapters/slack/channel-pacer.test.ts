/** The channel pacer: turns on one channel spaced by the interval across pacers sharing a store, other channels left alone, and a bounded wait. */
import { describe, expect, it } from 'vitest';
import { ChannelPacer } from '../../../adapters/slack/channel-pacer.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';

describe('channel pacing', () => {
  it('spaces turns on one channel by the interval, across pacers sharing a store, and leaves other channels alone', async () => {
    const kv = new MemoryKeyValueStore();
    const a = new ChannelPacer(kv, { intervalMs: 150, pollMs: 5 });
    const b = new ChannelPacer(kv, { intervalMs: 150, pollMs: 5 });
    const times: number[] = [];
    const start = Date.now();
    await Promise.all([a, b, a].map(async (p) => {
      await p.turn('C1');
      times.push(Date.now() - start);
    }));
    await a.turn('C2');
    const other = Date.now() - start;
    times.sort((x, y) => x - y);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(140);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(140);
    expect(other - times[2]).toBeLessThan(100);
  });

  it('stops waiting after its bound', async () => {
    const kv = new MemoryKeyValueStore();
    const p = new ChannelPacer(kv, { intervalMs: 10_000, maxWaitMs: 100, pollMs: 10 });
    await p.turn('C1');
    const t = Date.now();
    await p.turn('C1');
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
