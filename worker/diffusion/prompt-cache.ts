/**
 * Recent prompts' conditioning, least recently used out first: variations, reseeds and
 * upscales repeat the same prompts, and a text encoder run is not free on big models.
 */
const CACHE_LIMIT = 64;

export class PromptCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private readonly limit = CACHE_LIMIT) {}

  /** The cached value for `key`, or `compute()`'s (a failure is not remembered). */
  get(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      // re-insert: Map order is the LRU order
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const pending = compute();
    this.entries.set(key, pending);
    pending.catch(() => this.entries.delete(key));
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
    return pending;
  }
}
