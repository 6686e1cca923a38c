/** The step-tensor kernels of step-kernels.wat (see there), over a memory of their own. */
import { KernelMemory, kernelModule } from './kernel-memory.ts';

export interface StepKernelExports {
  divide(src: number, dst: number, n: number, d: number): void;
  toHalf(src: number, dst: number, n: number, d: number): void;
  fromHalf(src: number, dst: number, n: number): void;
  guide(u: number, c: number, dst: number, n: number, g: number): void;
  guideHalf(u: number, c: number, dst: number, n: number, g: number): void;
}

const stepKernelModule = kernelModule(new URL('./step-kernels.wasm', import.meta.url));

/** The step kernels over a memory for `bytes` in at most `regions` views. */
export function stepKernels(bytes: number, regions: number): KernelMemory<StepKernelExports> {
  return new KernelMemory<StepKernelExports>(stepKernelModule(), bytes, regions);
}
