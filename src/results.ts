/**
 * Finished results (parameters, seeds, artifact refs) kept for RESULT_TTL_DAYS so buttons and
 * reactions can build follow-up jobs. Reactions arrive with only a platform message id, so
 * there is a second, equally expiring index: message id -> result id.
 */
import type { Config } from './config.ts';
import { parseJobResult, type JobResult, type Platform } from './jobs.ts';
import type { KeyValueStore } from './kv.ts';
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
    const valid = parseJobResult(result);
    const ms = ttlToMs(ttlS);
    await this.write({ expiresAt: ms === 0 ? 0 : this.now() + ms, result: valid });
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

  private async write(stored: StoredResult): Promise<boolean> {
    const ttl = this.remainingSeconds(stored.expiresAt);
    if (ttl === null) return false;
    const { result } = stored;
    await this.kv.set(resultKey(result.resultId), JSON.stringify(stored), ttl);
    if (result.messageId) await this.kv.set(messageKey(result.origin.platform, result.messageId), result.resultId, ttl);
    return true;
  }

  private async read(resultId: string): Promise<StoredResult | null> {
    const raw = await this.kv.get(resultKey(resultId));
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
