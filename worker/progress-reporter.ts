/**
 * Progress of one job, two ways: the queue's own progress field every step (cheap; the web
 * playground and `position` read it), and a chat message edit at most once per interval,
 * because platforms rate-limit edits (Discord: ~5 per 5 s per channel). Neither ever blocks
 * the denoising loop: updates are sent in the background, at most one in flight per channel,
 * and a newer step replaces an unsent older one.
 */
import type { ProgressUpdate } from '../src/delivery.ts';
import type { JobProgress } from '../src/queue/types.ts';

export interface StepInfo {
  step: number;
  total: number;
  /** Makes the cheap latent preview (of this step or, called later, a newer one); called only for steps that reach the chat. */
  preview?: () => Promise<Buffer>;
}

type ChatStep = Omit<ProgressUpdate, 'preview'> & { makePreview?: () => Promise<Buffer> };

export interface ProgressReporterOptions {
  /** Minimum time between chat updates; the first one waits this long after the start too, so fast jobs send none. */
  intervalMs: number;
  /** Attach latent previews to chat updates. */
  preview: boolean;
  updateJobProgress(progress: JobProgress): Promise<void>;
  deliver(update: ProgressUpdate): Promise<void>;
  onError?(err: unknown, channel: 'queue' | 'chat'): void;
  now?: () => number;
}

/** Sends the latest value through `send`, one call at a time, dropping values superseded while one is in flight. */
class LatestOnly<T> {
  private pending: T | undefined;
  private hasPending = false;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly send: (value: T) => Promise<void>, private readonly onError: (err: unknown) => void) {}

  push(value: T): void {
    this.pending = value;
    this.hasPending = true;
    if (!this.inFlight) this.inFlight = this.drain();
  }

  get busy(): boolean {
    return this.inFlight !== null;
  }

  private async drain(): Promise<void> {
    while (this.hasPending) {
      const value = this.pending as T;
      this.hasPending = false;
      this.pending = undefined;
      try {
        await this.send(value);
      } catch (err) {
        this.onError(err);
      }
    }
    this.inFlight = null;
  }

  async idle(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }
}

export class ProgressReporter {
  private readonly now: () => number;
  private readonly startedAt: number;
  private firstStepAt: number | null = null;
  private lastChatAt: number;
  private readonly queue: LatestOnly<JobProgress>;
  private readonly chat: LatestOnly<ChatStep>;
  /** Chat updates actually handed to the deliverer (for tests and metrics). */
  chatUpdates = 0;

  constructor(private readonly opts: ProgressReporterOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.lastChatAt = this.startedAt;
    const onError = opts.onError ?? (() => undefined);
    this.queue = new LatestOnly((p) => opts.updateJobProgress(p), (err) => onError(err, 'queue'));
    this.chat = new LatestOnly(
      async ({ makePreview, ...update }) => {
        // A preview that fails to render is dropped; the step count still goes out.
        const preview = makePreview ? await makePreview().catch(() => undefined) : undefined;
        this.chatUpdates++;
        await opts.deliver(preview ? { ...update, preview } : update);
      },
      (err) => onError(err, 'chat'),
    );
  }

  /**
   * Remaining time from the measured step time. The first step also pays for text encoding and
   * warm-up, so once there are two steps the estimate uses only the steps after the first.
   */
  etaMs(step: number, total: number): number | null {
    if (step <= 0) return null;
    const now = this.now();
    const perStep = step >= 2 && this.firstStepAt !== null ? (now - this.firstStepAt) / (step - 1) : (now - this.startedAt) / step;
    return Math.max(0, Math.round(perStep * (total - step)));
  }

  step(info: StepInfo): void {
    const now = this.now();
    if (info.step === 1 || this.firstStepAt === null) this.firstStepAt ??= now;
    const eta = this.etaMs(info.step, info.total);
    this.queue.push({ step: info.step, total: info.total, ...(eta !== null ? { etaMs: eta } : {}) });
    // The last step is followed at once by the result, which replaces the progress message.
    if (info.step >= info.total) return;
    if (now - this.lastChatAt < this.opts.intervalMs || this.chat.busy) return;
    this.lastChatAt = now;
    this.chat.push({ step: info.step, total: info.total, etaMs: eta, makePreview: this.opts.preview ? info.preview : undefined });
  }

  /** Wait for chat edits in flight, so a progress edit never lands after the result. */
  async flushChat(): Promise<void> {
    await this.chat.idle();
  }

  /** Wait for the queue's progress field to hold the last step. */
  async flushQueue(): Promise<void> {
    await this.queue.idle();
  }

  async flush(): Promise<void> {
    await Promise.all([this.flushQueue(), this.flushChat()]);
  }
}
