/**
 * Finished results (parameters, seeds, artifact refs) kept for RESULT_TTL_DAYS so buttons and
 * reactions can build follow-up jobs. Reactions arrive with only a platform message id, so
 * there is a second, equally expiring index: message id -> result id.
 */
import type { Config } from './config.ts';
import { parseJobResult, type JobResult, type Platform } from './jobs.ts';
import { setMany, type KeyValueStore, type KvWrite } from './kv.ts';
import { ttlToMs } from './kv-ttl.ts';

interface StoredResult {
  /** Epoch ms; 0 = never. Kept beside the result so later updates keep the original expiry. */
  expiresAt: number;
  result: JobResult;
}

const resultKey = (resultId: string) => `result:${resultId}`;
const messageKey = (platform: Platform, messageId: string) => `result-by-message:${platform}:${messageId}`;

export function resultTtlSeconds(config: Pick<Config, 'RESULT_TTL_DAYS'>): number {
  return config.RESULT_TTL_DAYS * 86_400;
}

export class ResultStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Store (or replace) a result for ttlS seconds (0 = no expiry). The result is validated first. */
  async save(result: JobResult, ttlS: number): Promise<void> {
    await setMany(this.kv, this.writesFor(result, ttlS).writes);
  }

  /**
   * What save() writes, for a caller that sends it in one round trip with writes of its own.
   * The result is validated here; `result` is the validated copy (pass it to messageIdWrites later).
   */
  writesFor(result: JobResult, ttlS: number): { result: JobResult; writes: KvWrite[] } {
    const valid = parseJobResult(result);
    return { result: valid, writes: this.storedWrites(this.fresh(valid, ttlS)) };
  }

  /**
   * What save({ ...result, messageId }, ttlS) writes, for a `result` that was already validated
   * (from writesFor() or get()): adding a message id cannot make it invalid, so it is not checked again.
   */
  messageIdWrites(result: JobResult, messageId: string, ttlS: number): KvWrite[] {
    return this.storedWrites(this.fresh({ ...result, messageId }, ttlS));
  }

  /** The key a result is stored under, for callers that read it together with other keys (getMany). */
  keyOf(resultId: string): string {
    return resultKey(resultId);
  }

  /** The result from a raw stored value read under keyOf(resultId); same answers and errors as get(). */
  decode(resultId: string, raw: string | null): JobResult | null {
    return this.parseStored(resultId, raw)?.result ?? null;
  }

  /** The result, or null when unknown or expired. A stored value that fails validation throws (with the id). */
  async get(resultId: string): Promise<JobResult | null> {
    return (await this.read(resultId))?.result ?? null;
  }

  async delete(resultId: string): Promise<void> {
    const stored = await this.read(resultId);
    await this.kv.del(resultKey(resultId));
    if (stored?.result.messageId) await this.kv.del(messageKey(stored.result.origin.platform, stored.result.messageId));
  }

  /** Record the platform message that shows the result (after delivery). Returns the updated result, or null if it expired. */
  async setMessageId(resultId: string, messageId: string): Promise<JobResult | null> {
    const stored = await this.read(resultId);
    if (!stored) return null;
    const previous = stored.result.messageId;
    const updated: StoredResult = { expiresAt: stored.expiresAt, result: { ...stored.result, messageId } };
    if (!(await this.write(updated))) return null;
    if (previous && previous !== messageId) await this.kv.del(messageKey(stored.result.origin.platform, previous));
    return updated.result;
  }

  /** The result id shown by a platform message (reactions), or null. */
  async resultIdForMessage(platform: Platform, messageId: string): Promise<string | null> {
    return this.kv.get(messageKey(platform, messageId));
  }

  async getByMessage(platform: Platform, messageId: string): Promise<JobResult | null> {
    const resultId = await this.resultIdForMessage(platform, messageId);
    return resultId ? this.get(resultId) : null;
  }

  /** Seconds left before an expiry, or null when it has passed (0 stays "no expiry"). */
  private remainingSeconds(expiresAt: number): number | null {
    if (expiresAt === 0) return 0;
    const ms = expiresAt - this.now();
    return ms > 0 ? ms / 1000 : null;
  }

  private fresh(result: JobResult, ttlS: number): StoredResult {
    const ms = ttlToMs(ttlS);
    return { expiresAt: ms === 0 ? 0 : this.now() + ms, result };
  }

  /** The result and its message index; none once the expiry has passed. */
  private storedWrites(stored: StoredResult): KvWrite[] {
    const ttl = this.remainingSeconds(stored.expiresAt);
    if (ttl === null) return [];
    const { result } = stored;
    const writes: KvWrite[] = [{ key: resultKey(result.resultId), value: JSON.stringify(stored), ttlS: ttl }];
    if (result.messageId) writes.push({ key: messageKey(result.origin.platform, result.messageId), value: result.resultId, ttlS: ttl });
    return writes;
  }

  private async write(stored: StoredResult): Promise<boolean> {
    const writes = this.storedWrites(stored);
    if (writes.length === 0) return false;
    await setMany(this.kv, writes);
    return true;
  }

  private async read(resultId: string): Promise<StoredResult | null> {
    return this.parseStored(resultId, await this.kv.get(resultKey(resultId)));
  }

  private parseStored(resultId: string, raw: string | null): StoredResult | null {
    if (raw === null) return null;
    let parsed: { expiresAt?: unknown; result?: unknown };
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error(`stored result ${resultId} is not valid JSON`);
    }
    const expiresAt = typeof parsed.expiresAt === 'number' ? parsed.expiresAt : 0;
    if (this.remainingSeconds(expiresAt) === null) return null;
    try {
      return { expiresAt, result: parseJobResult(parsed.result) };
    } catch (err) {
      throw new Error(`stored result ${resultId} does not match the result schema: ${(err as Error).message.slice(0, 300)}`);
    }
  }
}
