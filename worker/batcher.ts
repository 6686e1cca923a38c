/**
 * Dynamic batching. Jobs that arrive while the pipeline is busy wait here; when a slot frees,
 * the oldest waiting job is taken together with every later waiting job that has the same
 * compatibility key (same model, size, steps, sampler, CFG on/off), up to `maxBatch` images,
 * and they run as one pipeline call. Nothing is held back for batching when there is no
 * backlog beyond a short gather window, so batch size follows load: one job alone runs alone.
 *
 * With `maxBatch` 1 (batching off) this is a plain FIFO executor with `slots` parallel runs.
 */
export interface BatchEntry<Req> {
  request: Req;
  signal: AbortSignal;
}

export type BatchRunner<Req, Res> = (entries: BatchEntry<Req>[]) => Promise<PromiseSettledResult<Res>[]>;

export interface BatcherOptions<Req, Res> {
  /** Pipeline calls allowed at once (WORKER_CONCURRENCY). */
  slots: number;
  /** Images per call (WORKER_MAX_BATCH when batching is on; 1 when off). */
  maxBatch: number;
  /** How long a free slot waits for companions before running a batch that is not full. */
  gatherMs: number;
  run: BatchRunner<Req, Res>;
  onBatch?(size: number, images: number): void;
}

interface Pending<Req, Res> extends BatchEntry<Req> {
  key: string | null;
  weight: number;
  resolve(value: Res): void;
  reject(err: unknown): void;
}

export class Batcher<Req, Res> {
  private readonly pending: Pending<Req, Res>[] = [];
  private running = 0;
  private gathering = false;

  constructor(private readonly opts: BatcherOptions<Req, Res>) {}

  get waiting(): number {
    return this.pending.length;
  }

  get busySlots(): number {
    return this.running;
  }

  /**
   * Queue one request. `key` null means it never shares a call (img2img from its own image,
   * upscales); `weight` is how many images it adds to a batch.
   */
  submit(request: Req, key: string | null, weight: number, signal: AbortSignal): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const entry: Pending<Req, Res> = { request, key, weight, signal, resolve, reject };
      // A job cancelled while it waits leaves at once rather than when its turn comes.
      signal.addEventListener(
        'abort',
        () => {
          const i = this.pending.indexOf(entry);
          if (i >= 0) {
            this.pending.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
      this.pending.push(entry);
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.gathering) return;
    while (this.running < this.opts.slots && this.pending.length > 0) {
      const first = this.pending[0];
      const batchable = first.key !== null && this.opts.maxBatch > 1;
      if (batchable && this.opts.gatherMs > 0 && this.takeBatch(false).weight < this.opts.maxBatch) {
        this.gathering = true;
        setTimeout(() => {
          this.gathering = false;
          this.launch(this.takeBatch(true).entries);
          this.dispatch();
        }, this.opts.gatherMs);
        return;
      }
      this.launch(this.takeBatch(true).entries);
    }
  }

  /** The batch the oldest waiting request would run in; removes it from the queue when `take`. */
  private takeBatch(take: boolean): { entries: Pending<Req, Res>[]; weight: number } {
    if (this.pending.length === 0) return { entries: [], weight: 0 };
    const first = this.pending[0];
    const entries = [first];
    let weight = first.weight;
    if (first.key !== null) {
      for (const p of this.pending.slice(1)) {
        if (p.key !== first.key || weight + p.weight > this.opts.maxBatch) continue;
        entries.push(p);
        weight += p.weight;
      }
    }
    if (take) for (const e of entries) this.pending.splice(this.pending.indexOf(e), 1);
    return { entries, weight };
  }

  private launch(entries: Pending<Req, Res>[]): void {
    if (entries.length === 0) return;
    this.running++;
    this.opts.onBatch?.(entries.length, entries.reduce((s, e) => s + e.weight, 0));
    void this.opts
      .run(entries.map(({ request, signal }) => ({ request, signal })))
      .then(
        (results) => {
          entries.forEach((e, i) => {
            const r = results[i];
            if (!r) e.reject(new Error('the batch runner returned no result for this request'));
            else if (r.status === 'fulfilled') e.resolve(r.value);
            else e.reject(r.reason);
          });
        },
        (err: unknown) => entries.forEach((e) => e.reject(err)),
      )
      .finally(() => {
        this.running--;
        this.dispatch();
      });
  }
}
