/**
 * Scheduler conformance against diffusers' own outputs (schedulers.json in
 * test/fixtures/reference/, see its README), plus the behaviour the pipeline relies on: seeded
 * determinism, batches stepping like single images, and clear errors.
 *
 * Tolerance: every tensor value must satisfy |ours - ref| <= 1e-4 * max(1, |ref|), i.e.
 * relative to the value's own magnitude, absolute 1e-4 below 1. Timesteps must be equal
 * exactly (float32 ones after Math.fround); betas and alphas_cumprod bit-exactly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLERS } from '../../src/samplers.ts';
import { createRandom } from '../../worker/diffusion/random.ts';
import { makeAlphasCumprod, makeBetas } from '../../worker/diffusion/schedulers/betas.ts';
import {
  createScheduler,
  img2imgTimesteps,
  SCHEDULER_NAMES,
  samplerFromLabel,
  samplerLabel,
  type Scheduler,
  type SchedulerName,
  type StepOptions,
} from '../../worker/diffusion/schedulers/index.ts';
import { readReferenceJson } from '../support/reference-data.ts';

const TOLERANCE = 1e-4;

interface Run {
  num_inference_steps: number;
  timesteps: number[];
  timestep_dtype: 'int64' | 'float32';
  sigmas: number[] | null;
  init_noise_sigma: number;
  scale_model_input_factors: number[];
  initial_latent: number[];
  first_model_output: number[];
  step_noise_index: (number | null)[] | null;
  latents: number[][];
  denoised?: number[][];
}
interface Img2Img {
  num_inference_steps: number;
  strength: number;
  all_timesteps: number[];
  init_timestep: number;
  t_start: number;
  timesteps: number[];
  effective_num_inference_steps: number;
  begin_index: number | null;
  latent_timestep: number;
  noisy_latent: number[];
  scale_model_input_factors: number[];
  step_noise_index: (number | null)[] | null;
  final_latent: number[];
}
interface Setup {
  name: string;
  scheduler: SchedulerName;
  scheduler_config: Record<string, unknown>;
  order: number;
  runs: Run[];
  add_noise: {
    num_inference_steps: number;
    timesteps_after_set_timesteps: number[];
    cases: { timestep: number; schedule_index: number | null; result: number[] }[];
  };
  img2img: Img2Img[];
}
interface Reference {
  base_config: Record<string, unknown>;
  train_schedule: { betas: number[]; alphas_cumprod: number[] };
  initial_noise: number[];
  image_latent: number[];
  image_noise: number[];
  noise_bank: number[][];
  schedulers: Setup[];
}

const ref = readReferenceJson<Reference>('schedulers.json');

/** The reference's fake UNet: float32((0.5 x[i]) cos(t/1000 π) + 0.1 sin(i)), i the index within one image. */
function fakeModel(x: Float32Array, t: number, imageSize = x.length): Float32Array {
  const c = Math.cos((t / 1000) * Math.PI);
  return x.map((v, i) => 0.5 * v * c + 0.1 * Math.sin(i % imageSize));
}

let worst = { err: 0, where: '' };
function expectClose(actual: ArrayLike<number> | undefined, expected: ArrayLike<number>, where: string): void {
  expect(actual, `${where}: missing`).toBeDefined();
  const a = actual as ArrayLike<number>;
  expect(a.length, `${where}: length`).toBe(expected.length);
  let maxErr = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(a[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= maxErr)) {
      maxErr = err;
      at = i;
    }
  }
  if (maxErr > worst.err) worst = { err: maxErr, where };
  if (!(maxErr <= TOLERANCE)) {
    expect.fail(`${where}: value ${at} is ${a[at]}, reference ${expected[at]} (relative error ${maxErr})`);
  }
}

function expectTimesteps(actual: number[], expected: number[], where: string): void {
  expect(actual, where).toEqual(expected.map(Math.fround));
}

function noiseFor(index: number | null | undefined, bank: number[][]): StepOptions | undefined {
  return index === null || index === undefined ? undefined : { noise: Float32Array.from(bank[index]) };
}

afterAll(() => {
  console.log(`schedulers: worst relative error ${worst.err.toExponential(2)} (${worst.where})`);
});

describe('scheduler conformance with diffusers (reference schedulers.json)', () => {
  it('covers every scheduler name with 11 setups', () => {
    expect(ref.schedulers).toHaveLength(11);
    expect(new Set(ref.schedulers.map((s) => s.scheduler))).toEqual(new Set(SCHEDULER_NAMES));
  });

  it('builds the training betas and alphas_cumprod bit-exactly', () => {
    const cfg = {
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear' as const,
      trained_betas: null,
    };
    expect(Array.from(makeBetas(cfg))).toEqual(ref.train_schedule.betas.map(Math.fround));
    expect(Array.from(makeAlphasCumprod(cfg))).toEqual(ref.train_schedule.alphas_cumprod.map(Math.fround));
  });

  for (const setup of ref.schedulers) {
    describe(setup.name, () => {
      const make = (): Scheduler => createScheduler(setup.scheduler, setup.scheduler_config);

      for (const run of setup.runs) {
        it(`txt2img with ${run.num_inference_steps} steps`, () => {
          const where = `${setup.name}/${run.num_inference_steps}`;
          const s = make();
          expect(s.name).toBe(setup.scheduler);
          expect(s.order).toBe(setup.order);
          s.setTimesteps(run.num_inference_steps);
          expectTimesteps(s.timesteps, run.timesteps, `${where} timesteps`);
          if (run.timestep_dtype === 'int64') expect(s.timesteps.every(Number.isInteger)).toBe(true);
          if (run.sigmas === null) expect(s.sigmas).toBeUndefined();
          else expectClose(s.sigmas, run.sigmas, `${where} sigmas`);
          expectClose([s.initNoiseSigma], [run.init_noise_sigma], `${where} init_noise_sigma`);

          let latents: Float32Array = Float32Array.from(ref.initial_noise, (v) => v * s.initNoiseSigma);
          expectClose(latents, run.initial_latent, `${where} initial_latent`);
          expect(run.latents).toHaveLength(s.timesteps.length);
          s.timesteps.forEach((t, k) => {
            const x = s.scaleModelInput(latents, t);
            const factor = s.scaleModelInput(Float32Array.of(1), t)[0];
            expectClose([factor], [run.scale_model_input_factors[k]], `${where} scale factor ${k}`);
            const out = fakeModel(x, t);
            if (k === 0) expectClose(out, run.first_model_output, `${where} first_model_output`);
            latents = s.step(out, t, latents, noiseFor(run.step_noise_index?.[k], ref.noise_bank));
            expectClose(latents, run.latents[k], `${where} latents[${k}]`);
            if (run.denoised) expectClose(s.lastDenoised, run.denoised[k], `${where} denoised[${k}]`);
          });
        });
      }

      it('add_noise', () => {
        const an = setup.add_noise;
        const s = make();
        s.setTimesteps(an.num_inference_steps);
        expectTimesteps(s.timesteps, an.timesteps_after_set_timesteps, `${setup.name} add_noise timesteps`);
        expect(an.cases.length).toBeGreaterThan(0);
        for (const c of an.cases) {
          if (c.schedule_index !== null) expect(s.timesteps[c.schedule_index]).toBe(Math.fround(c.timestep));
          const noisy = s.addNoise(Float32Array.from(ref.image_latent), Float32Array.from(ref.image_noise), c.timestep);
          expectClose(noisy, c.result, `${setup.name} add_noise t=${c.timestep}`);
        }
      });

      for (const case_ of setup.img2img) {
        it(`img2img ${case_.num_inference_steps} steps, strength ${case_.strength}`, () => {
          const where = `${setup.name} img2img ${case_.num_inference_steps}/${case_.strength}`;
          const s = make();
          const sel = img2imgTimesteps(s, case_.num_inference_steps, case_.strength);
          expectTimesteps(s.timesteps, case_.all_timesteps, `${where} all timesteps`);
          expectTimesteps(sel.timesteps, case_.timesteps, `${where} timesteps`);
          expect(sel.tStart).toBe(case_.t_start);
          expect(case_.num_inference_steps - sel.tStart).toBe(case_.effective_num_inference_steps);
          expect(sel.latentTimestep).toBe(Math.fround(case_.latent_timestep));
          expect(typeof s.setBeginIndex === 'function').toBe(case_.begin_index !== null);
          if (case_.begin_index !== null) expect(sel.tStart * s.order).toBe(case_.begin_index);

          let latents = s.addNoise(Float32Array.from(ref.image_latent), Float32Array.from(ref.image_noise), sel.latentTimestep);
          expectClose(latents, case_.noisy_latent, `${where} noisy_latent`);
          sel.timesteps.forEach((t, k) => {
            const x = s.scaleModelInput(latents, t);
            const factor = s.scaleModelInput(Float32Array.of(1), t)[0];
            expectClose([factor], [case_.scale_model_input_factors[k]], `${where} scale factor ${k}`);
            latents = s.step(fakeModel(x, t), t, latents, noiseFor(case_.step_noise_index?.[k], ref.noise_bank));
          });
          expectClose(latents, case_.final_latent, `${where} final_latent`);
        });
      }
    });
  }
});

// Stable Diffusion 1.5's scheduler_config.json, for the tests that do not need the reference
const SD15_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

/** Runs a whole txt2img loop with the fake model; `noiseFor(k)` gives each step's options. */
function runLoop(
  s: Scheduler,
  steps: number,
  start: Float32Array,
  imageSize: number,
  opts: (k: number) => StepOptions | undefined,
): Float32Array {
  s.setTimesteps(steps);
  let latents: Float32Array = start.map((v) => v * s.initNoiseSigma);
  s.timesteps.forEach((t, k) => {
    latents = s.step(fakeModel(s.scaleModelInput(latents, t), t, imageSize), t, latents, opts(k));
  });
  return latents;
}

describe('scheduler behaviour', () => {
  const SIZE = 4 * 8 * 8;

  it.each(['euler_a', 'lcm'] as const)('%s: the same seed gives identical output, another seed another', (name) => {
    const start = createRandom(7).normal(SIZE);
    const withSeed = (seed: number) => {
      const generator = createRandom(seed);
      return runLoop(createScheduler(name, SD15_CONFIG), 4, start, SIZE, () => ({ generator }));
    };
    const a = withSeed(42);
    const b = withSeed(42);
    const c = withSeed(43);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });

  it.each(SCHEDULER_NAMES)('%s: a batch of two steps exactly like the two images alone', (name) => {
    const starts = [createRandom(1).normal(SIZE), createRandom(2).normal(SIZE)];
    // per-image step noise, as the pipeline passes it for images with different seeds
    const generators = [createRandom(11), createRandom(12)];
    const noise = Array.from({ length: 21 }, () => generators.map((g) => g.normal(SIZE))); // PNDM lists N+1
    const singles = starts.map((start, b) =>
      runLoop(createScheduler(name, SD15_CONFIG), 20, start, SIZE, (k) => ({ noise: noise[k][b] })),
    );
    const concat = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.length * SIZE);
      parts.forEach((p, i) => out.set(p, i * SIZE));
      return out;
    };
    const batch = runLoop(createScheduler(name, SD15_CONFIG), 20, concat(starts), SIZE, (k) => ({
      noise: concat(noise[k]),
    }));
    expect(Array.from(batch)).toEqual(Array.from(concat(singles)));
    expect(Array.from(singles[0])).not.toEqual(Array.from(singles[1]));
  });

  it.each(SCHEDULER_NAMES)('%s: one model-output buffer reused every step gives the same run (the scheduler keeps no reference to it)', (name) => {
    // the pipeline writes each step's guided prediction into the same buffer
    const start = createRandom(5).normal(SIZE);
    const freshGenerator = createRandom(9);
    const fresh = runLoop(createScheduler(name, SD15_CONFIG), 20, start, SIZE, () => ({ generator: freshGenerator }));
    const s = createScheduler(name, SD15_CONFIG);
    s.setTimesteps(20);
    const generator = createRandom(9);
    const reused = new Float32Array(SIZE);
    let latents: Float32Array = start.map((v) => v * s.initNoiseSigma);
    for (const t of s.timesteps) {
      // the divisor alone reproduces scaleModelInput, which the pipeline fuses into its tensor copy
      const divisor = s.modelInputDivisor(t);
      const scaled = s.scaleModelInput(latents, t);
      expect(Array.from(latents, (v) => Math.fround(v / divisor))).toEqual(Array.from(scaled));
      reused.set(fakeModel(scaled, t, SIZE));
      latents = s.step(reused, t, latents, { generator });
    }
    expect(Array.from(latents)).toEqual(Array.from(fresh));
  });

  it.each(SCHEDULER_NAMES)('%s: steps in place, its estimates in buffers it reuses (no latent-sized allocation per step)', (name) => {
    const s = createScheduler(name, SD15_CONFIG);
    s.setTimesteps(12);
    const generator = createRandom(4);
    const latents = createRandom(6).normal(SIZE).map((v) => v * s.initNoiseSigma);
    const denoisedSeen = new Set<Float32Array>();
    for (const t of s.timesteps) {
      const out = s.step(fakeModel(s.scaleModelInput(latents, t), t, SIZE), t, latents, { generator });
      expect(out).toBe(latents);
      if (s.lastDenoised) denoisedSeen.add(s.lastDenoised);
    }
    expect(latents.every(Number.isFinite)).toBe(true);
    // one buffer (two for DPM-Solver's history of two estimates) across all twelve steps
    if (name !== 'pndm') expect(denoisedSeen.size).toBe(name.startsWith('dpmpp') ? 2 : 1);
  });

  it.each(['euler_a', 'lcm'] as const)('%s: a noisy step without noise or generator throws a clear error', (name) => {
    const s = createScheduler(name, SD15_CONFIG);
    s.setTimesteps(4);
    const t = s.timesteps[0];
    const x = createRandom(3).normal(SIZE);
    expect(() => s.step(fakeModel(s.scaleModelInput(x, t), t), t, x)).toThrow(/opts\.noise.*opts\.generator/);
    expect(() => s.step(x, t, x, { noise: new Float32Array(3) })).toThrow(/3 values/);
  });

  it('lcm: the last step needs no noise, so one-step sampling works without a generator', () => {
    const s = createScheduler('lcm', SD15_CONFIG);
    s.setTimesteps(1);
    const x = createRandom(4).normal(SIZE);
    const t = s.timesteps[0];
    const out = s.step(fakeModel(x, t), t, x);
    expect(Array.from(out)).toEqual(Array.from(s.lastDenoised as Float32Array));
  });

  it('lcm says through the scheduler that the pipeline decodes its denoised estimate; the others decode the sample', () => {
    const size = 8;
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD15_CONFIG);
      s.setTimesteps(4);
      const noise = name === 'euler_a' || name === 'lcm' ? { generator: createRandom(9) } : {};
      let x = createRandom(8).normal(size);
      for (const t of s.timesteps.slice(0, 2)) x = s.step(fakeModel(s.scaleModelInput(x, t), t), t, x, noise);
      const final = s.finalSample?.(x) ?? x;
      if (name === 'lcm') {
        // mid-schedule LCM re-noises its estimate: what is decoded is the estimate itself
        expect(final).toBe(s.lastDenoised);
        expect(Array.from(final)).not.toEqual(Array.from(x));
      } else {
        expect(final).toBe(x);
      }
    }
  });

  it('one sampler table: every name builds its scheduler, labels are A1111\'s and read back, the env schema offers the same names', () => {
    expect([...SAMPLERS]).toEqual([...SCHEDULER_NAMES]);
    const labels = SCHEDULER_NAMES.map(samplerLabel);
    expect(new Set(labels).size).toBe(labels.length);
    expect(samplerLabel('euler_a')).toBe('Euler a');
    expect(samplerLabel('dpmpp_2m_karras')).toBe('DPM++ 2M Karras');
    expect(samplerLabel('pndm')).toBe('PLMS');
    for (const name of SCHEDULER_NAMES) {
      expect(createScheduler(name, SD15_CONFIG).name).toBe(name);
      expect(samplerFromLabel(samplerLabel(name))).toBe(name);
    }
    expect(samplerFromLabel('Heun')).toBe('Heun');
  });

  it('pndm without skip_prk_steps warms up with Runge–Kutta steps', () => {
    const s = createScheduler('pndm', { ...SD15_CONFIG, skip_prk_steps: false });
    s.setTimesteps(10);
    // diffusers: the last 4 leading timesteps, each with its half-step midpoint, as RK4 stages
    // (12 PRK timesteps), then PLMS over the remaining ones
    expect(s.timesteps).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
    const out = runLoop(s, 10, createRandom(5).normal(SIZE), SIZE, () => undefined);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(() => createScheduler('pndm', { ...SD15_CONFIG, skip_prk_steps: false }).setTimesteps(3)).toThrow(/PRK/);
  });

  it('refuses a step past the end of the schedule', () => {
    const s = createScheduler('euler', SD15_CONFIG);
    const x = createRandom(6).normal(SIZE);
    runLoop(s, 2, x, SIZE, () => undefined);
    const t = s.timesteps[1];
    expect(() => s.step(x, t, x)).toThrow(/steps are done/);
  });

  it('uses each class default for fields the config leaves out', () => {
    // SD15_CONFIG sets no timestep_spacing
    const ddim = createScheduler('ddim', SD15_CONFIG);
    ddim.setTimesteps(4);
    expect(ddim.timesteps).toEqual([751, 501, 251, 1]); // leading, steps_offset 1
    const euler = createScheduler('euler', SD15_CONFIG);
    euler.setTimesteps(4);
    expect(euler.timesteps).toEqual([999, 666, 333, 0]); // linspace
    const lcm = createScheduler('lcm', {});
    lcm.setTimesteps(4);
    expect(lcm.timesteps).toEqual([999, 759, 499, 259]);
  });

  it('rejects invalid and unsupported configs and step counts', () => {
    expect(() => createScheduler('ddim', { beta_schedule: 'quadratic' })).toThrow(/beta_schedule/);
    expect(() => createScheduler('euler', { rescale_betas_zero_snr: true })).toThrow(/rescale_betas_zero_snr/);
    expect(() => createScheduler('nope' as SchedulerName, {})).toThrow(/unknown scheduler/);
    const s = createScheduler('ddim', SD15_CONFIG);
    expect(() => s.setTimesteps(0)).toThrow(/step count/);
    expect(() => s.step(new Float32Array(4), 1, new Float32Array(4))).toThrow(/setTimesteps/);
    expect(() => createScheduler('lcm', SD15_CONFIG).setTimesteps(51)).toThrow(/original_inference_steps/);
    expect(() => img2imgTimesteps(createScheduler('euler', SD15_CONFIG), 10, 0.05)).toThrow(/no denoising step/);
  });
});
