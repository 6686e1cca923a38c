/**
 * Stand-ins for what the worker waits on, for the fleet benches: a device that holds "the GPU"
 * for a set time per image without using the CPU (a timer), plugged in where the real pipeline
 * goes, and a platform whose posts take a set time (a deliverer that sleeps). The device
 * records when it was busy, so a bench can tell how much of the time it waited on anything else.
 */
import sharp from 'sharp';
import { startRedis, type TestRedis } from '../kit/redis-server.ts';
import type { DeliveredMessage, Deliverer, DeliveryContext } from '../src/delivery.ts';
import { imageSeed } from '../src/image-seed.ts';
import type { GenerateResult } from '../worker/diffusion/index.ts';
import type { WorkerPipeline } from '../worker/job-runner.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SimulatedDevice implements WorkerPipeline {
  readonly providers = ['simulated'];
  /** A stand-in for an ordinary model, not an inpainting one: it runs every kind of job. */
  readonly editsOnly = false;
  /** [start, end] of every hold, in performance.now() milliseconds. */
  readonly busy: [number, number][] = [];
  private free: Promise<void> = Promise.resolve();

  private constructor(
    private readonly msPerImage: number,
    private readonly png: Buffer,
  ) {}

  static async create(msPerImage: number): Promise<SimulatedDevice> {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
    return new SimulatedDevice(msPerImage, png);
  }

  /** Holds the device for `ms` after whatever holds it now (a model load does). */
  hold(ms: number): Promise<void> {
    const turn = this.free.then(() => sleep(ms));
    this.free = turn;
    return turn;
  }

  /** One call at a time holds the device, as a real pipeline's lock does. */
  async decodeEach(reqs: Parameters<WorkerPipeline['decodeEach']>[0], opts: Parameters<WorkerPipeline['decodeEach']>[1]) {
    const turn = this.free.then(async () => {
      const start = performance.now();
      const images = reqs.reduce((s, r) => s + r.n, 0);
      const preview = async () => this.png;
      reqs.forEach((_, i) => opts[i].onProgress?.({ step: 1, total: 2, elapsedMs: 0, stepMs: 0, preview }));
      await sleep(this.msPerImage * images);
      reqs.forEach((_, i) => opts[i].onProgress?.({ step: 2, total: 2, elapsedMs: this.msPerImage * images, stepMs: 0, preview }));
      this.busy.push([start, performance.now()]);
      return reqs.map((req) => {
        const result: GenerateResult = {
          images: Array.from({ length: req.n }, (_, k) => ({ png: this.png, seed: imageSeed(req.seed, k), width: 8, height: 8 })),
          timings: { totalMs: this.msPerImage * images, textEncodeMs: 0, unetMs: 0, vaeMs: 0, ortRunMs: 0, steps: 2, batchSize: reqs.length },
          model: 'simulated',
          sampler: req.sampler,
          provider: 'simulated',
        };
        return { status: 'fulfilled' as const, value: { result: Promise.resolve(result) } };
      });
    });
    this.free = turn.then(() => undefined, () => undefined);
    return turn;
  }

  async upscale(): Promise<never> {
    throw new Error('the simulated device does not upscale');
  }

  /** Busy time over the span from the first hold's start to the last one's end (0..1). */
  busyFraction(): number {
    if (this.busy.length === 0) return 0;
    const span = this.busy[this.busy.length - 1][1] - this.busy[0][0];
    return this.busy.reduce((s, [a, b]) => s + (b - a), 0) / span;
  }
}

/** A platform whose result posts take `uploadMs` (a grid going up to Discord or Slack). */
export class SleepingPlatform implements Deliverer {
  readonly platform = 'discord' as const;
  private delivered = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(private readonly uploadMs: number) {}

  classifyError() {
    return { verdict: 'permanent' } as const;
  }

  async progress(): Promise<void> {}

  async result(ctx: DeliveryContext): Promise<DeliveredMessage> {
    await sleep(this.uploadMs);
    this.delivered++;
    this.waiters = this.waiters.filter((w) => (this.delivered >= w.n ? (w.resolve(), false) : true));
    return { messageId: `m-${ctx.jobId}` };
  }

  async failure(ctx: { jobId: string }, notice: { message: string }): Promise<void> {
    throw new Error(`bench job ${ctx.jobId} failed: ${notice.message}`);
  }

  /** Resolves once n results were posted. */
  done(n: number): Promise<void> {
    if (this.delivered >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/**
 * Some waits of a run hold no ref'd handle (QueueConsumer.close's grace timer, the private
 * redis-server's exit), which lets a bench process end mid-run; hold it open meanwhile.
 */
async function keptAlive<T>(work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Runs a fleet bench against its own private redis-server, stopped afterwards. */
export function onPrivateRedis<T>(bench: (redis: TestRedis) => Promise<T>): Promise<T> {
  return keptAlive(async () => {
    const redis = await startRedis();
    try {
      return await bench(redis);
    } finally {
      await redis.stop();
    }
  });
}
