/**
 * A short hold on a job's status message, shared by a bot and the workers through the
 * key-value store (they run in different processes). The bot edits the message once after
 * enqueueing (queue position), and a worker may already be delivering by then: the bot holds
 * the message for that edit, and the deliverer waits for the hold to go before its first
 * edit, so "queued" never lands on top of progress or a result. Keyed by the platform event,
 * which is known before the job id.
 */
import type { KeyValueStore } from './kv.ts';

/** Long enough for one message edit; short enough that a bot dying mid-hold delays delivery only briefly. */
export const MESSAGE_HOLD_TTL_S = 10;

export class MessageHold {
  /** `keyPrefix` is the platform's (bots and workers of different versions must agree on it). */
  constructor(private readonly keyPrefix: string) {}

  private key(eventId: string): string {
    return `${this.keyPrefix}:${eventId}`;
  }

  async hold(kv: KeyValueStore, eventId: string): Promise<void> {
    await kv.set(this.key(eventId), '1', MESSAGE_HOLD_TTL_S);
  }

  async release(kv: KeyValueStore, eventId: string): Promise<void> {
    await kv.del(this.key(eventId));
  }

  async waitForRelease(kv: KeyValueStore, eventId: string, maxWaitMs = MESSAGE_HOLD_TTL_S * 1000, pollMs = 50): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    while ((await kv.get(this.key(eventId))) !== null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
