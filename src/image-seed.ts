/**
 * The seed rule: image i of a job uses seed + i (and a variation's blend seed + i). A job of
 * n images is the same as n jobs of one image with the seeds counted up, so any image can be
 * made again alone from its own seed; results, PNG parameters and the pipeline's noise all
 * follow this one rule.
 */
export function imageSeed(seed: number, index: number): number {
  return seed + index;
}
