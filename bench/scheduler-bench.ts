/**
 * Scheduler step maths alone: scaleModelInput + step per denoising step on one 512 px
 * latent (4 x 64 x 64), 20 steps, SD 1.5's scheduler config, for every scheduler. Ancestral
 * and LCM steps include drawing their seeded noise. Minimum and median over repeated runs
 * (the minimum is the least disturbed by other load on the machine).
 */
import { createRandom } from '../worker/diffusion/random.ts';
import { createScheduler, SCHEDULER_NAMES, type SchedulerName } from '../worker/diffusion/schedulers/index.ts';
import type { BenchFigure } from './figure.ts';

const LATENT = 4 * 64 * 64;
const STEPS = 20;
const RUNS = 25;
const SD15 = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  timestep_spacing: 'leading',
  prediction_type: 'epsilon',
};

/** Microseconds per step of one 20-step run. */
function runOnce(name: SchedulerName, seed: number): number {
  const scheduler = createScheduler(name, SD15);
  scheduler.setTimesteps(STEPS);
  const generator = createRandom(seed, 99n);
  const modelOutput = createRandom(seed + 1).normal(LATENT);
  let sample: Float32Array = createRandom(seed).normal(LATENT).map((x) => x * scheduler.initNoiseSigma);
  const t0 = performance.now();
  for (const t of scheduler.timesteps) {
    scheduler.scaleModelInput(sample, t);
    sample = scheduler.step(modelOutput, t, sample, { generator });
  }
  const us = ((performance.now() - t0) / scheduler.timesteps.length) * 1000;
  if (!Number.isFinite(sample[0])) throw new Error(`${name} produced ${sample[0]}`);
  return us;
}

export async function run(): Promise<BenchFigure[]> {
  const times = new Map<SchedulerName, number[]>(SCHEDULER_NAMES.map((n) => [n, []]));
  for (let r = 0; r < RUNS + 3; r++) {
    for (const name of SCHEDULER_NAMES) {
      const us = runOnce(name, r);
      if (r >= 3) times.get(name)!.push(us); // the first runs compile the loops
    }
  }
  return SCHEDULER_NAMES.map((name) => {
    const s = [...times.get(name)!].sort((a, b) => a - b);
    return { name: `${name} step`, value: s[0], unit: 'us', note: `min of ${RUNS}; median ${s[Math.floor(s.length / 2)].toFixed(0)} us; 4x64x64 latent` };
  });
}
