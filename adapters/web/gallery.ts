/**
 * A browser session's recent results, newest first, for the gallery. Only result ids are kept
 * (under one key per session, expiring with the results); the parameters come from the result
 * store, so an expired or deleted result simply drops out of the list.
 *
 * Updates are read-modify-write, so they are serialised per session within this process; the
 * one process serving the playground is the only writer.
 */
import type { JobResult } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { ResultStore } from '../../src/results.ts';

export const GALLERY_SIZE = 24;
const key = (session: string) => `web:gallery:${session}`;

export class Gallery {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly kv: KeyValueStore,
    private readonly results: ResultStore,
    private readonly ttlS: number,
  ) {}

  add(session: string, resultId: string): Promise<void> {
    return this.update(session, (ids) => [resultId, ...ids.filter((id) => id !== resultId)].slice(0, GALLERY_SIZE));
  }

  remove(session: string, resultId: string): Promise<void> {
    return this.update(session, (ids) => ids.filter((id) => id !== resultId));
  }

  /** The session's results that still exist, newest first. */
  async list(session: string): Promise<JobResult[]> {
    const ids = await this.ids(session);
    const found = await Promise.all(ids.map((id) => this.results.get(id).catch(() => null)));
    return found.filter((r): r is JobResult => r !== null);
  }

  private async ids(session: string): Promise<string[]> {
    const raw = await this.kv.get(key(session));
    if (!raw) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  private update(session: string, change: (ids: string[]) => string[]): Promise<void> {
    const previous = this.chains.get(session) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        await this.kv.set(key(session), JSON.stringify(change(await this.ids(session))), this.ttlS);
      });
    this.chains.set(session, next);
    void next.finally(() => {
      if (this.chains.get(session) === next) this.chains.delete(session);
    }).catch(() => undefined);
    return next;
  }
}
