/**
 * When a worker process should retire: after WORKER_MAX_JOBS jobs or once its resident
 * memory passes WORKER_MAX_RSS_MB (0 = no limit). Native memory held by ONNX Runtime is not
 * returned by any API, so the only reliable reclaim is a fresh process: the worker finishes
 * what it holds, closes cleanly and exits 0 for its supervisor to start a new one.
 */
export type RecycleReason = { kind: 'max-jobs'; jobs: number } | { kind: 'max-rss'; rssMb: number };

export interface RecyclePolicyOptions {
  maxJobs: number;
  maxRssMb: number;
  rssBytes?: () => number;
}

export class RecyclePolicy {
  private jobs = 0;
  private readonly rssBytes: () => number;

  constructor(private readonly opts: RecyclePolicyOptions) {
    this.rssBytes = opts.rssBytes ?? (() => process.memoryUsage.rss());
  }

  get jobsDone(): number {
    return this.jobs;
  }

  /** Count a finished job (completed or failed) and say whether the process should now retire. */
  jobFinished(): RecycleReason | null {
    this.jobs++;
    return this.check();
  }

  check(): RecycleReason | null {
    if (this.opts.maxJobs > 0 && this.jobs >= this.opts.maxJobs) return { kind: 'max-jobs', jobs: this.jobs };
    if (this.opts.maxRssMb > 0) {
      const rssMb = this.rssBytes() / (1024 * 1024);
      if (rssMb > this.opts.maxRssMb) return { kind: 'max-rss', rssMb: Math.round(rssMb) };
    }
    return null;
  }
}
