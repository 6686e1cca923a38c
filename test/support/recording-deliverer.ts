/**
 * A Deliverer that records what a user would have seen, for worker tests. It can append
 * every event as a JSON line to a file, so a test can read what worker child processes
 * delivered (including ones it killed), and it can be scripted to fail result posts the way
 * platforms do (429 with Retry-After, 5xx) before succeeding.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { Deliverer, DeliveredMessage, DeliveryContext, DeliveryErrorClass, FailureContext, FailureNotice, ProgressUpdate, ResultFiles } from '../../src/delivery.ts';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/delivery.ts';
import { classifyCommonError } from '../../src/delivery-retry.ts';
import type { JobResult, Platform } from '../../src/jobs.ts';

export type DeliveryEvent =
  | { type: 'progress'; jobId: string; step: number; total: number; etaMs: number | null; preview: boolean; at: number; pid: number }
  | { type: 'result'; jobId: string; resultId: string; seeds: number[]; images: number; gridBytes: number; flagged?: boolean[]; hasSecret: boolean; messageId: string; at: number; pid: number }
  | { type: 'result-refused'; jobId: string; status: number; retryAfterMs?: number; at: number; pid: number }
  | { type: 'failure'; jobId: string; message: string; retry: boolean; cancelled: boolean; at: number; pid: number };

export interface ScriptedFault {
  status: number;
  retryAfterMs?: number;
}

export interface RecordingDelivererOptions {
  platform?: Platform;
  /** Append events here as JSON lines (shared by every process of a test). */
  file?: string;
  /** Result posts fail with these, in order, before the first one that succeeds. */
  resultFaults?: ScriptedFault[];
  /** Delay before a result post is made (to widen windows in fault tests). */
  resultDelayMs?: number;
  /** Delay after a result post was made (recorded) and before it answers: the post-to-mark window. */
  resultReturnDelayMs?: number;
}

export class RecordingDeliverer implements Deliverer {
  readonly platform: Platform;
  readonly events: DeliveryEvent[] = [];
  private readonly faults: ScriptedFault[];

  constructor(private readonly opts: RecordingDelivererOptions = {}) {
    this.platform = opts.platform ?? 'discord';
    this.faults = [...(opts.resultFaults ?? [])];
  }

  /** Its scripted faults are our own error classes: 4xx other than 408/429 permanent, the rest transient. */
  classifyError(err: unknown): DeliveryErrorClass {
    return classifyCommonError(err) ?? { verdict: 'retry' };
  }

  private record(event: DeliveryEvent): void {
    this.events.push(event);
    if (this.opts.file) appendFileSync(this.opts.file, JSON.stringify(event) + '\n');
  }

  async progress(ctx: DeliveryContext, update: ProgressUpdate): Promise<void> {
    this.record({ type: 'progress', jobId: ctx.jobId, step: update.step, total: update.total, etaMs: update.etaMs, preview: !!update.preview, at: Date.now(), pid: process.pid });
  }

  async result(ctx: DeliveryContext, result: JobResult, files: ResultFiles): Promise<DeliveredMessage> {
    if (this.opts.resultDelayMs) await new Promise((r) => setTimeout(r, this.opts.resultDelayMs));
    const fault = this.faults.shift();
    if (fault) {
      this.record({ type: 'result-refused', jobId: ctx.jobId, status: fault.status, retryAfterMs: fault.retryAfterMs, at: Date.now(), pid: process.pid });
      const permanent = fault.status >= 400 && fault.status < 500 && fault.status !== 408 && fault.status !== 429;
      throw permanent ? new PermanentDeliveryError(`HTTP ${fault.status}`, fault.status) : new TransientDeliveryError(`HTTP ${fault.status}`, fault.status, fault.retryAfterMs);
    }
    const messageId = `msg-${ctx.jobId}`;
    this.record({
      type: 'result',
      jobId: ctx.jobId,
      resultId: result.resultId,
      seeds: result.images.map((i) => i.seed),
      images: files.images.length,
      gridBytes: files.grid.length,
      // the verdicts as the deliverer sees them, when the model folder has a checker
      ...(result.images.some((i) => i.nsfw !== undefined) ? { flagged: result.images.map((i) => i.nsfw === true) } : {}),
      hasSecret: ctx.secret !== null,
      messageId,
      at: Date.now(),
      pid: process.pid,
    });
    if (this.opts.resultReturnDelayMs) await new Promise((r) => setTimeout(r, this.opts.resultReturnDelayMs));
    return { messageId };
  }

  async failure(ctx: FailureContext, notice: FailureNotice): Promise<void> {
    this.record({ type: 'failure', jobId: ctx.jobId, message: notice.message, retry: notice.retry, cancelled: !!notice.cancelled, at: Date.now(), pid: process.pid });
  }
}

/** Every event written to a recording file so far. */
export function readDeliveries(file: string): DeliveryEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeliveryEvent);
}
