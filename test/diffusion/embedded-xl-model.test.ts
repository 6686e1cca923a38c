/**
 * The embedded SDXL-format model (models/tiny-xl), run through the product's own pipeline, draws
 * what it is asked at least as often as models/tiny does, and only while every SDXL conditioning
 * input reaches the UNet as SDXL routes it. Each wiring test breaks one wire inside a copy of the
 * model's ONNX graphs (test/support/tiny-xl-ablations.ts) and scores the same captions the same way:
 * a pipeline that dropped or misrouted that input would draw what the broken copy draws, so it could
 * not pass. Scoring rules: test/support/tiny-model-check.ts; captions: the 36 held-out combinations.
 */
import { describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest } from '../../worker/diffusion/index.ts';
import {
  HELD_OUT_THRESHOLDS,
  TINY_MODEL_DIR,
  TINY_XL_MODEL_DIR,
  accuracyFailures,
  accuracySummary,
  heldOutCombinations,
  meetsThresholds,
  scoreScenesOverSeeds,
  type Accuracy,
} from '../support/tiny-model-check.ts';
import { ABLATIONS, ablatedTinyXl } from '../support/tiny-xl-ablations.ts';

const held = heldOutCombinations();

/**
 * Prompt following at both models' defaults (Euler a, 20 steps, guidance 2), pooled over three
 * seeds so that one caption drawn differently on another platform cannot flip the comparison.
 * Measured: tiny-xl 0.972 all three right (seeds 1/2/3: 0.972, 0.944, 1.000), tiny 0.880
 * (0.944, 0.806, 0.889).
 */
const FOLLOWING_SEEDS = [1, 2, 3];

/**
 * The wiring is measured with DDIM, the sampler the model's training tool scores its ablations with
 * (models/tiny-xl/train/README.md, Wiring), on the tool's two noises per caption. Euler a's fresh
 * noise at every step redraws part of the layout and hides what the time ids ask for: swapped time
 * ids cost 0.14 of the captions there, 0.51 with DDIM; the other inputs cost about as much with either.
 * Measured with DDIM (72 images), all three right: intact 0.903; text_embeds zeros 0.014, encoder 1's
 * hidden states zeros 0.569, encoder 2's 0.528, time ids swapped 0.389. A pipeline that feeds the
 * intact model the same wrong input (tried: each of the four, in worker/diffusion/families/sdxl.ts)
 * draws exactly these figures, and fails both held-out tests.
 */
const WIRING: Partial<GenerateRequest> = { sampler: 'ddim' };
const WIRING_SEEDS = [1, 2];
/** Each broken wire must cost at least this share of the captions drawn right (all three); the smallest measured drop is 0.33. */
const MIN_DROP = 0.2;

async function scoreModel(dir: string, seeds: number[], overrides: Partial<GenerateRequest> = {}): Promise<Accuracy> {
  // The whole held-out set in one UNet batch (72 rows with the guidance half).
  const pipeline = await loadPipeline(dir, { providers: ['cpu'], maxBatch: held.length });
  try {
    return await scoreScenesOverSeeds(pipeline, held, seeds, overrides);
  } finally {
    await pipeline.dispose();
  }
}

describe('tiny-xl prompt following on held-out caption combinations', () => {
  it("draws the asked background, shape colour and shape as models/tiny's tests require, and all three right at least as often as models/tiny", async () => {
    const xl = await scoreModel(TINY_XL_MODEL_DIR, FOLLOWING_SEEDS);
    const tiny = await scoreModel(TINY_MODEL_DIR, FOLLOWING_SEEDS);
    console.info(`held-out x seeds ${FOLLOWING_SEEDS} (${xl.checks.length}): tiny-xl ${accuracySummary(xl)}; tiny ${accuracySummary(tiny)}`);
    expect(xl.background, accuracyFailures(xl)).toBeGreaterThanOrEqual(HELD_OUT_THRESHOLDS.background);
    expect(xl.shapeColor, accuracyFailures(xl)).toBeGreaterThanOrEqual(HELD_OUT_THRESHOLDS.shapeColor);
    expect(xl.shape, accuracyFailures(xl)).toBeGreaterThanOrEqual(HELD_OUT_THRESHOLDS.shape);
    expect(xl.all, accuracyFailures(xl)).toBeGreaterThanOrEqual(tiny.all);
  }, 120_000);
});

describe('tiny-xl wiring: each conditioning input, broken inside the model, costs accuracy', () => {
  let intact: Accuracy | undefined;
  const intactScore = async () => (intact ??= await scoreModel(TINY_XL_MODEL_DIR, WIRING_SEEDS, WIRING));

  it('intact, it meets the held-out thresholds with the wiring settings too', async () => {
    const acc = await intactScore();
    console.info(`tiny-xl held-out, DDIM, intact: ${accuracySummary(acc)}`);
    expect(meetsThresholds(acc), accuracyFailures(acc)).toBe(true);
  }, 120_000);

  it.each(ABLATIONS.map((a) => [a.name, a] as const))('%s', async (_name, ablation) => {
    const copy = ablatedTinyXl(ablation);
    try {
      const broken = await scoreModel(copy.dir, WIRING_SEEDS, WIRING);
      const { all } = await intactScore();
      console.info(`tiny-xl held-out, DDIM, ${ablation.name}: ${accuracySummary(broken)} (intact: all three ${all.toFixed(3)})`);
      expect(broken.all).toBeLessThanOrEqual(all - MIN_DROP);
      expect(meetsThresholds(broken), accuracySummary(broken)).toBe(false);
    } finally {
      copy.remove();
    }
  }, 120_000);
});
