/**
 * Model-aware routing on the worker side: a worker consumes only the BullMQ queues of the
 * models it serves (WORKER_MODELS), one BullMQ Worker per model queue, and this gate decides
 * which of them may take the next job.
 *
 * - Capacity: all model queues together hold at most what the pipeline can start (the
 *   consumer's concurrency plus the jobs only being stored), as one queue alone would.
 * - Bounded preference: a job for a model this worker holds (loaded or loading) is taken
 *   first. A job for a model it does not hold is taken only when no job waits for a model it
 *   holds, or once that job (the next in its model's line) has waited WORKER_MODEL_WAIT_S;
 *   then the held models' queues give way to it, or they would always win the freed slot.
 *   So a worker keeps to its loaded model while that model has work, another worker that
 *   holds the other model (or KEDA's next one for it) gets the other model's jobs, and a
 *   model that nobody holds is still served within the bound: no starvation, and a model
 *   load (tens of seconds for a real model) only where the queue needs one.
 *
 * A queue that is refused looks again every POLL_MS while it is refused (only then: a worker
 * with nothing to prefer waits on BullMQ's own blocking fetch).
 */
// A connection to one Redis or to a Redis Cluster (src/redis.ts).
import type { RedisClient as Redis } from '../src/redis.ts';
import type { LaneKeys } from '../src/queue/keys.ts';

/** What the gate needs to know of a model queue. */
export interface LaneState {
  waiting: number;
  /** How long the next job to be taken has waited, ms; null when none waits. */
  headWaitedMs: number | null;
}

export interface LaneGateOptions {
  /** The models this worker serves, one per consumed queue. */
  models: readonly string[];
  /** Jobs this worker may hold now. */
  capacity(): number;
  /** Whether this worker holds the model (loaded or loading). */
  holds(model: string): boolean;
  peek(model: string): Promise<LaneState>;
  maxWaitMs: number;
  pollMs?: number;
}

const POLL_MS = 250;

export class LaneGate {
  private held = 0;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly opts: LaneGateOptions) {}

  /** Jobs held through the gate now. */
  get holding(): number {
    return this.held;
  }

  /**
   * Resolves true when the queue of `model` may take one job now (counted as held until
   * leave()), false when it should look again later (after a pause, so callers do not spin).
   */
  async enter(model: string): Promise<boolean> {
    while (!this.closed) {
      if (this.held >= this.opts.capacity()) {
        await this.changed();
        continue;
      }
      const allowed = await this.allowed(model);
      if (this.closed) return false;
      if (this.held >= this.opts.capacity()) continue; // another queue took the slot meanwhile
      if (allowed) {
        this.held++;
        return true;
      }
      await this.changed(this.opts.pollMs ?? POLL_MS);
      return false;
    }
    return false;
  }

  /** A job taken through enter() ended (or the take found none). */
  leave(): void {
    this.held = Math.max(0, this.held - 1);
    this.wake();
  }

  /** Capacity grew (a job is only being stored): let waiting queues look again. */
  wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private async allowed(model: string): Promise<boolean> {
    const overdue = (s: LaneState) => (s.headWaitedMs ?? 0) >= this.opts.maxWaitMs;
    if (this.opts.holds(model)) {
      // Give way to another model's job that has waited past the bound.
      const notHeld = this.opts.models.filter((m) => m !== model && !this.opts.holds(m));
      const states = await Promise.all(notHeld.map((m) => this.opts.peek(m)));
      return !states.some((s) => s.waiting > 0 && overdue(s));
    }
    const held = this.opts.models.filter((m) => m !== model && this.opts.holds(m));
    if (held.length === 0) return true;
    const [mine, ...theirs] = await Promise.all([model, ...held].map((m) => this.opts.peek(m)));
    return theirs.every((s) => s.waiting === 0) || overdue(mine);
  }

  private changed(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }
}

/** A model queue's waiting count and the age of its next job, from Redis (BullMQ takes the wait list first, then the prioritized set). */
export async function peekLane(redis: Redis, lane: LaneKeys): Promise<LaneState> {
  const [[, wait], [, prioritized], [, tail], [, head]] = (await redis
    .multi()
    .llen(lane.wait)
    .zcard(lane.prioritized)
    .lrange(lane.wait, -1, -1)
    .zrange(lane.prioritized, 0, 0)
    .exec()) as [unknown, unknown][] as [[null, number], [null, number], [null, string[]], [null, string[]]];
  const next = tail[0] ?? head[0];
  if (!next) return { waiting: 0, headWaitedMs: null };
  const timestamp = Number(await redis.hget(lane.jobPrefix + next, 'timestamp'));
  return { waiting: wait + prioritized, headWaitedMs: Number.isFinite(timestamp) && timestamp > 0 ? Date.now() - timestamp : null };
}
