/**
 * Exactly-once delivery from the user's point of view. Each job has one record in the
 * key-value store (Redis in a fleet) around its final post — the result, or the failure
 * notice, whichever comes first:
 *
 *   absent ──claim──> posting(owner) ──post ok──> done(messageId)
 *                          ├──post failed, may succeed later──> absent (the next attempt posts)
 *                          └──retry layer gave up──> failed(reason) (a later attempt may post again)
 *
 * A re-run that finds `done` never posts again (it completes the job with the recorded
 * message). A re-run that finds someone else's `posting` record is the one window we cannot
 * close: the previous attempt died after claiming, and the platform may or may not have
 * accepted its post. BullMQ's job lock guarantees that attempt is gone (its lock expired), so
 * the re-run takes the claim over and posts again, with the same idempotency key (the job id)
 * that deliverers pass to platforms that deduplicate (Discord's message nonce with
 * enforce_nonce; editing the job's own status message in place is naturally idempotent).
 * We choose "maybe twice in that window" over "maybe never": a lost result is worse for a
 * user than a duplicate, and the window is one HTTP round trip wide.
 */
import { DeliveryGaveUpError } from './delivery-retry.ts';
import { setMany, type KeyValueStore, type KvWrite } from './kv.ts';

export type DeliveryOutcome = 'result' | 'failure';

export type DeliveryRecord =
  | { state: 'posting'; owner: string; outcome: DeliveryOutcome; at: number }
  | { state: 'done'; outcome: DeliveryOutcome; messageId?: string; resultId?: string; at: number }
  /** The platform refused the post for good, or the retries ran out: kept so the failure is on record, not only in a log. */
  | { state: 'failed'; outcome: DeliveryOutcome; reason: string; at: number; notified?: boolean };

export type DoneRecord = Extract<DeliveryRecord, { state: 'done' }>;

export interface LedgerOptions {
  /** How long records are kept (the result TTL: a job can be re-run from the queue at most that long). */
  ttlS: number;
  /** Tries when writing the `done` mark (the post already happened; losing the mark would allow a second post). */
  markAttempts?: number;
  now?: () => number;
  onTakeover?(jobId: string, previous: DeliveryRecord): void;
}

const key = (jobId: string) => `delivery:${jobId}`;

/** Writes that travel with the ledger's own, in the same round trip (a MULTI on Redis). */
export interface LedgerCompanions {
  /** Written just before the claim, whether or not the claim succeeds (e.g. the result the post will show). */
  claim?: KvWrite[];
  /** Written with the `done` mark once the post succeeded (e.g. recording the message id elsewhere). */
  mark?(record: DoneRecord): KvWrite[];
}

export class DeliveryLedger {
  private readonly now: () => number;

  constructor(private readonly kv: KeyValueStore, private readonly opts: LedgerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The key a job's record is kept under, for callers that read it together with other keys. */
  keyOf(jobId: string): string {
    return key(jobId);
  }

  async get(jobId: string): Promise<DeliveryRecord | null> {
    return this.decode(await this.kv.get(key(jobId)));
  }

  /** A record from a raw value read under keyOf(); same answers as get(). */
  decode(raw: string | null): DeliveryRecord | null {
    if (!raw) return null;
    try {
      return JSON.parse(raw) as DeliveryRecord;
    } catch {
      return null;
    }
  }

  /** The `done` record, when this job's outcome was already delivered. */
  async delivered(jobId: string): Promise<DoneRecord | null> {
    return doneOnly(await this.get(jobId));
  }

  /** delivered() for a raw value read under keyOf(). */
  decodeDelivered(raw: string | null): DoneRecord | null {
    return doneOnly(this.decode(raw));
  }

  /** Notes on a failed record that the requester was told (a notice reached them). */
  async noteNotified(jobId: string): Promise<void> {
    const rec = await this.get(jobId);
    if (rec?.state === 'failed') await this.kv.set(key(jobId), JSON.stringify({ ...rec, notified: true }), this.opts.ttlS);
  }

  /**
   * Run `post` unless this job's outcome was already delivered. Returns whether this call
   * posted, and the `done` record either way.
   */
  async once(
    jobId: string,
    owner: string,
    outcome: DeliveryOutcome,
    post: () => Promise<{ messageId?: string; resultId?: string }>,
    companions: LedgerCompanions = {},
  ): Promise<{ posted: boolean; record: DoneRecord }> {
    const posting = JSON.stringify({ state: 'posting', owner, outcome, at: this.now() } satisfies DeliveryRecord);
    const claimWrite: KvWrite = { key: key(jobId), value: posting, ttlS: this.opts.ttlS, ifAbsent: true };
    // The common case (no record yet) costs one round trip, companions included: claim first, read only when that fails.
    const claim = async (tries: number): Promise<boolean> => {
      if (tries > 0 || !companions.claim?.length) return this.kv.setIfAbsent(key(jobId), posting, this.opts.ttlS);
      const applied = await setMany(this.kv, [...companions.claim, claimWrite]);
      return applied[applied.length - 1];
    };
    for (let tries = 0; !(await claim(tries)); tries++) {
      const existing = await this.get(jobId);
      if (existing?.state === 'done') return { posted: false, record: existing };
      if (existing?.state === 'posting' || existing?.state === 'failed') {
        if (existing.state === 'posting' && existing.owner !== owner) this.opts.onTakeover?.(jobId, existing);
        await this.kv.set(key(jobId), posting, this.opts.ttlS);
        break;
      }
      // The record vanished between the claim and the read (expired or released); claim again.
      if (tries >= 5) throw new Error(`delivery record for job ${jobId} keeps changing; refusing to post`);
    }

    let delivered: { messageId?: string; resultId?: string };
    try {
      delivered = await post();
    } catch (err) {
      if (err instanceof DeliveryGaveUpError) {
        const failed: DeliveryRecord = { state: 'failed', outcome, reason: err.reason, at: this.now() };
        await this.kv.set(key(jobId), JSON.stringify(failed), this.opts.ttlS).catch(() => undefined);
      } else {
        // Nothing reached the user (or the deliverer could not tell): let the next attempt post.
        await this.kv.del(key(jobId)).catch(() => undefined);
      }
      throw err;
    }
    const record: DoneRecord = { state: 'done', outcome, messageId: delivered.messageId, resultId: delivered.resultId, at: this.now() };
    const writes: KvWrite[] = [{ key: key(jobId), value: JSON.stringify(record), ttlS: this.opts.ttlS }, ...(companions.mark?.(record) ?? [])];
    const attempts = this.opts.markAttempts ?? 5;
    for (let i = 1; ; i++) {
      try {
        await setMany(this.kv, writes);
        return { posted: true, record };
      } catch (err) {
        if (i >= attempts) throw new UnmarkedPostError(jobId, err);
        await new Promise((r) => setTimeout(r, 200 * i));
      }
    }
  }
}

/**
 * The post reached the user but its `done` mark could not be written. Whoever runs the task must
 * not run it again: a new attempt would find the `posting` record, take it over and post twice.
 */
export class UnmarkedPostError extends Error {
  constructor(readonly jobId: string, cause: unknown) {
    super(`job ${jobId} was posted, but its delivery record could not be marked done: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'UnmarkedPostError';
  }
}

function doneOnly(rec: DeliveryRecord | null): DoneRecord | null {
  return rec?.state === 'done' ? rec : null;
}
