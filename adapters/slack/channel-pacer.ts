/**
 * Slack allows about one message per second per channel. Posts to a channel are spaced
 * through the key-value store (Redis in a fleet), so the bot and every worker share one
 * schedule: each post claims the channel for the interval with SET NX and waits while
 * someone else holds it. Waiting is bounded; past the bound the post goes ahead and Slack's
 * own 429 handling (slack-api.ts) takes over.
 */
import type { KeyValueStore } from '../../src/kv.ts';

export interface ChannelPacerOptions {
  intervalMs?: number;
  maxWaitMs?: number;
  pollMs?: number;
}

const key = (channel: string) => `slack:pace:${channel}`;

export class ChannelPacer {
  private readonly intervalMs: number;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;

  constructor(private readonly kv: KeyValueStore, opts: ChannelPacerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 50;
  }

  /** Resolves when this caller may post to the channel. */
  async turn(channel: string): Promise<void> {
    if (this.intervalMs <= 0) return;
    const deadline = Date.now() + this.maxWaitMs;
    while (!(await this.kv.setIfAbsent(key(channel), '1', this.intervalMs / 1000))) {
      if (Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}
