/**
 * Timestep spacing and sigma helpers, reproducing the numpy expressions diffusers uses.
 *
 * Integer timesteps must come out identical to diffusers (a model sees them), so the
 * numpy building blocks are copied down to their rounding: np.linspace's `k*step + start`,
 * np.arange's `start + i*(second - start)` fill, np.round's half-to-even, np.interp's
 * slope formula, and the float32 tables that log-sigmas are taken from.
 */
const f32 = Math.fround;

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** np.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num, endpoint) in float64. */
export function numpyLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const out: number[] = [];
  if (div <= 0) {
    for (let k = 0; k < num; k++) out.push(k * (stop - start) + start);
    return out;
  }
  const step = (stop - start) / div;
  for (let k = 0; k < num; k++) out.push(k * step + start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) for float64 (numpy fills from the first two values). */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length === 0) return [];
  const out = [start];
  if (length === 1) return out;
  const second = start + step;
  out.push(second);
  const delta = second - start;
  for (let i = 2; i < length; i++) out.push(start + i * delta);
  return out;
}

function arangeInt(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Descending integer timesteps of the alpha-based schedulers (DDIM's set_timesteps; PNDM
 * uses the same values in ascending order).
 */
export function integerTimesteps(spacing: TimestepSpacing, numTrain: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'leading': {
      const ratio = Math.floor(numTrain / n);
      return arangeInt(n).map((k) => k * ratio + stepsOffset).reverse();
    }
    case 'linspace':
      return numpyLinspace(0, numTrain - 1, n).map(roundHalfEven).reverse();
    case 'trailing':
      return numpyArange(numTrain, 0, -numTrain / n).map((t) => roundHalfEven(t) - 1);
  }
}

/** Descending float32 timesteps of EulerDiscrete / EulerAncestralDiscrete (linspace is not rounded). */
export function eulerTimesteps(spacing: TimestepSpacing, numTrain: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return numpyLinspace(0, numTrain - 1, n).map(f32).reverse();
    case 'leading': {
      const ratio = Math.floor(numTrain / n);
      return arangeInt(n).map((k) => f32(k * ratio + stepsOffset)).reverse();
    }
    case 'trailing':
      return numpyArange(numTrain, 0, -numTrain / n).map((t) => f32(roundHalfEven(t) - 1));
  }
}

/**
 * DPMSolverMultistep's timesteps: N+1 points with the last (0) dropped, up to
 * `lastTimestep` (num_train_timesteps unless lambda_min_clipped cuts the top off).
 */
export function dpmSolverTimesteps(
  spacing: TimestepSpacing,
  numTrain: number,
  lastTimestep: number,
  n: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case 'linspace':
      return numpyLinspace(0, lastTimestep - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (n + 1));
      return arangeInt(n + 1).map((k) => k * ratio).reverse().slice(0, n).map((t) => t + stepsOffset);
    }
    case 'trailing':
      return numpyArange(lastTimestep, 0, -numTrain / n).map((t) => roundHalfEven(t) - 1);
  }
}

/** np.interp(x, arange(len(table)), table) in float64. */
export function interpolate(x: number, table: ArrayLike<number>): number {
  const last = table.length - 1;
  if (Number.isNaN(x)) return x;
  if (x <= 0) return table[0];
  if (x >= last) return table[last];
  const j = Math.floor(x);
  if (j === x) return table[j];
  const slope = table[j + 1] - table[j];
  return slope * (x - j) + table[j];
}

/** Karras et al. (2022) sigmas, rho = 7, from sigmaMax down to sigmaMin (float64). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return numpyLinspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/** np.log over a float32 table gives float32 values; `sigmaToTimestep` interpolates in them. */
export function logTable(sigmaTable: Float32Array): Float32Array {
  return sigmaTable.map((s) => f32(Math.log(s)));
}

/**
 * diffusers' _sigma_to_t: the fractional training timestep whose sigma is `sigma`,
 * interpolating linearly in log-sigma between the two neighbouring training timesteps.
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // the last index whose log-sigma is <= logSigma (0 when there is none), kept below the top
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx];
  const high = logSigmas[lowIdx + 1];
  // low - high is a float32 difference in numpy, the rest is float64
  const w = Math.min(1, Math.max(0, (low - logSigma) / f32(low - high)));
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}
