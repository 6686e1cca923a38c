/**
 * The WebAssembly step kernels (step-kernels.wat) and the memory they work in. Each kernel
 * reads and writes only its own memory, so the buffers it touches are views into that memory,
 * carved out once per UNet input shape; the memory never grows, so the views stay valid.
 */
import fs from 'node:fs';

interface StepKernelExports {
  divide(src: number, dst: number, n: number, d: number): void;
  toHalf(src: number, dst: number, n: number, d: number): void;
  fromHalf(src: number, dst: number, n: number): void;
  guide(u: number, c: number, dst: number, n: number, g: number): void;
  guideHalf(u: number, c: number, dst: number, n: number, g: number): void;
}

// Compiled once per process; 1 KB, so synchronously at first use.
let compiled: WebAssembly.Module | undefined;
const stepKernelModule = () => (compiled ??= new WebAssembly.Module(fs.readFileSync(new URL('./step-kernels.wasm', import.meta.url))));

const PAGE = 65536;
/** v128 loads and stores are fastest on 16-byte boundaries */
const ALIGN = 16;

/** The kernels' values count: a multiple of 4 (the rest is the caller's, in JavaScript). */
export const kernelCount = (n: number) => n & ~3;

export class StepKernels {
  readonly run: StepKernelExports;
  private readonly memory: WebAssembly.Memory;
  private next = 0;

  /** A memory for `bytes` in at most `regions` views, to be carved with float32() and uint16(). */
  constructor(bytes: number, regions: number) {
    // each region may start up to ALIGN bytes later than the last one ended
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((bytes + regions * ALIGN) / PAGE)) });
    this.run = new WebAssembly.Instance(stepKernelModule(), { env: { memory: this.memory } }).exports as unknown as StepKernelExports;
  }

  float32(count: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.carve(count * 4), count);
  }

  uint16(count: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, this.carve(count * 2), count);
  }

  private carve(bytes: number): number {
    const at = Math.ceil(this.next / ALIGN) * ALIGN;
    if (at + bytes > this.memory.buffer.byteLength) throw new Error(`step kernels: ${bytes} bytes do not fit the memory sized for them`);
    this.next = at + bytes;
    return at;
  }
}
