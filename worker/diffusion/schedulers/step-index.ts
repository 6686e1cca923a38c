/**
 * The step counter of the sigma-indexed schedulers (Euler, Euler-ancestral, DPM-Solver,
 * LCM), as diffusers keeps it: found from the first timestep passed in, or taken from
 * set_begin_index when an img2img loop starts partway through the schedule.
 */
export function sameTimestep(a: number, b: number): boolean {
  // float32 schedules hold Math.fround values; a caller may pass the float64 decimal
  return Math.fround(a) === Math.fround(b);
}

export class StepCursor {
  stepIndex: number | null = null;
  beginIndex: number | null = null;

  reset(): void {
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /**
   * diffusers' index_for_timestep: where `t` is listed; when it is listed twice, the second
   * place, so a loop starting mid-schedule never skips a sigma. `missing` says what a
   * timestep not in the schedule means ('last' for DPM-Solver, an error elsewhere).
   */
  static indexFor(timesteps: number[], t: number, missing: 'last' | 'throw', who: string): number {
    const found: number[] = [];
    for (let i = 0; i < timesteps.length && found.length < 2; i++) if (sameTimestep(timesteps[i], t)) found.push(i);
    if (found.length === 0) {
      if (missing === 'last' && timesteps.length > 0) return timesteps.length - 1;
      throw new Error(`${who}: timestep ${t} is not in the schedule [${timesteps.join(', ')}]`);
    }
    return found.length > 1 ? found[1] : found[0];
  }

  /** The current step index, initialised on the first call of a run. */
  current(timesteps: number[], t: number, missing: 'last' | 'throw', who: string): number {
    if (this.stepIndex === null) {
      this.stepIndex = this.beginIndex ?? StepCursor.indexFor(timesteps, t, missing, who);
    }
    if (this.stepIndex >= timesteps.length) {
      throw new Error(`${who}: the ${timesteps.length} scheduled steps are done; call setTimesteps to start again`);
    }
    return this.stepIndex;
  }

  /**
   * The step whose noise level add_noise uses: before a loop starts, an img2img begin index
   * decides; mid-loop (inpainting) the current step; with neither, where `t` is listed.
   */
  noiseIndex(timesteps: number[], t: number, missing: 'last' | 'throw', who: string): number {
    if (timesteps.length === 0) throw new Error(`${who}: call setTimesteps first`);
    return this.beginIndex === null ? StepCursor.indexFor(timesteps, t, missing, who) : (this.stepIndex ?? this.beginIndex);
  }

  advance(): void {
    if (this.stepIndex === null) throw new Error('step index advanced before it was set');
    this.stepIndex += 1;
  }

  setBegin(i: number, length: number, who: string): void {
    if (!Number.isInteger(i) || i < 0 || i >= length) {
      throw new Error(`${who}.setBeginIndex(${i}): must be an index into the ${length} timesteps`);
    }
    this.beginIndex = i;
  }
}
