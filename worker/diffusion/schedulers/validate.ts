/** Argument checks shared by the schedulers, so misuse fails with a message, not NaNs. */
export function assertSameLength(a: Float32Array, b: Float32Array, who: string): void {
  if (a.length !== b.length) throw new Error(`${who}: tensors of ${a.length} and ${b.length} values`);
}

export function assertStepCount(n: number, numTrain: number, who: string): void {
  if (!Number.isInteger(n) || n < 1 || n > numTrain) {
    throw new Error(`${who}.setTimesteps(${n}): the step count must be an integer in [1, ${numTrain}]`);
  }
}
