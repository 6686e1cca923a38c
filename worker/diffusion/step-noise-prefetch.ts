/**
 * Step noise drawn ahead, off the main thread. Ancestral samplers (euler_a, lcm) inject fresh
 * seeded noise every step: 16k normals per image at 512 px, about a millisecond of JavaScript
 * each, and onnxruntime-node runs the UNet synchronously on the main thread, so nothing there
 * overlaps it. The noise does not depend on the UNet's output, so a worker thread draws each
 * image's next step's noise (from the same seeded generator, in the same order: the bytes do
 * not change) while the main thread is inside the UNet, into two shared slots per image.
 *
 * One thread per process, started when a pipeline loads (or on first use), never holding the
 * process open. Until it runs, images draw their noise on the main thread as before (decided
 * per image), and a thread that failed is not used again.
 */
import { Worker } from 'node:worker_threads';

/** Per-stream control words, in front of the slots. */
export const CTRL = { produced: 0, consumed: 1, stopped: 2, length: 4 } as const;
/** Draws held ahead per image. */
export const SLOTS = 2;
/** How long the loop waits for a draw before calling the thread stuck. */
const STALL_MS = 10_000;

export interface StreamMessage {
  buffer: SharedArrayBuffer;
  seed: number;
  count: number;
}

interface NoiseThread {
  worker: Worker;
  /** [0]: bumped to wake the thread; [1]: 1 once it runs. */
  wake: Int32Array;
}

let thread: NoiseThread | null = null;
/** Off: every image draws on the main thread (the step-js bench compares both in one run). */
let enabled = true;

export function useStepNoiseThread(on: boolean): void {
  enabled = on;
}

function startThread(): NoiseThread {
  const wake = new Int32Array(new SharedArrayBuffer(8));
  const entry = new URL('./step-noise-thread.ts', import.meta.url).href;
  // The thread loads the TypeScript module the way this process does (tsx's loader).
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData: { wake: wake.buffer } });
  worker.unref();
  const started: NoiseThread = { worker, wake };
  worker.on('error', () => {
    // A broken thread is never used again; images draw on the main thread.
    Atomics.store(wake, 1, 0);
    if (thread === started) thread = null;
  });
  return started;
}

/** Starts the thread now (a pipeline does so when it loads), so the first jobs find it running. */
export function startStepNoiseThread(): void {
  thread ??= startThread();
}

/** Whether the thread runs (images opened now get their noise from it). */
export function stepNoiseThreadRunning(): boolean {
  return thread !== null && Atomics.load(thread.wake, 1) === 1;
}

function kick(t: NoiseThread): void {
  Atomics.add(t.wake, 0, 1);
  Atomics.notify(t.wake, 0);
}

/**
 * Lets the thread refill every stream's released slots: the denoise loop calls it once per
 * step, when the UNet run is about to hold the main thread (one wake for all images).
 */
export function wakeStepNoiseThread(): void {
  if (thread) kick(thread);
}

/** One image's step noise, drawn ahead by the thread. */
export class PrefetchedNoise {
  private readonly ctrl: Int32Array;
  private readonly slots: Float32Array[];
  private taken = 0;

  private constructor(
    private readonly t: NoiseThread,
    seed: number,
    count: number,
  ) {
    const buffer = new SharedArrayBuffer(CTRL.length * 4 + SLOTS * count * 4);
    this.ctrl = new Int32Array(buffer, 0, CTRL.length);
    this.slots = Array.from({ length: SLOTS }, (_, i) => new Float32Array(buffer, CTRL.length * 4 + i * count * 4, count));
    t.worker.postMessage({ buffer, seed, count } satisfies StreamMessage);
    kick(t);
  }

  /** The prefetched stream for this image's seed, or null while the thread is not running (draw locally). */
  static open(seed: number, count: number): PrefetchedNoise | null {
    if (!enabled) return null;
    thread ??= startThread();
    return stepNoiseThreadRunning() ? new PrefetchedNoise(thread, seed, count) : null;
  }

  /** The next step's noise; valid until release(). Waits only if the thread is behind. */
  next(): Float32Array {
    const k = this.taken;
    // not drawn yet: the thread may be asleep, not having been woken since the last release()
    if (Atomics.load(this.ctrl, CTRL.produced) <= k) kick(this.t);
    for (let waited = 0; Atomics.load(this.ctrl, CTRL.produced) <= k; waited += 100) {
      if (waited >= STALL_MS) throw new Error(`the step-noise thread drew nothing for ${STALL_MS} ms`);
      Atomics.wait(this.ctrl, CTRL.produced, k, 100);
    }
    return this.slots[k % SLOTS];
  }

  /**
   * The step consumed its noise: the slot may take the one after next. The thread is not woken
   * here but by wakeStepNoiseThread() as the UNet starts: drawing while the main thread still
   * runs the step's JavaScript would compete with it for the core (two vCPUs are often one).
   */
  release(): void {
    Atomics.store(this.ctrl, CTRL.consumed, ++this.taken);
  }

  /** The image is done (or cancelled): the thread forgets it. */
  stop(): void {
    Atomics.store(this.ctrl, CTRL.stopped, 1);
    kick(this.t);
  }
}
