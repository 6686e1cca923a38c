/**
 * A WebAssembly kernel module instantiated over a memory of its own, carved into typed-array
 * views. A kernel reads and writes only its own memory, so the buffers it works on are views
 * into it, carved once; the memory never grows, so the views stay valid.
 */
import fs from 'node:fs';

const PAGE = 65536;
/** v128 loads and stores are fastest on 16-byte boundaries */
const ALIGN = 16;

/** The kernels' values count: a multiple of 4 (the rest is the caller's). */
export const kernelCount = (n: number) => n & ~3;

/** A compiled kernel module, read from the .wasm beside the calling module on first use (a few KB). */
export function kernelModule(url: URL): () => WebAssembly.Module {
  let compiled: WebAssembly.Module | undefined;
  return () => (compiled ??= new WebAssembly.Module(fs.readFileSync(url)));
}

export class KernelMemory<Exports> {
  readonly run: Exports;
  private readonly memory: WebAssembly.Memory;
  private next = 0;

  /** `module` over a memory for `bytes` in at most `regions` views, carved with float32() and uint16(). */
  constructor(module: WebAssembly.Module, bytes: number, regions: number) {
    // each region may start up to ALIGN bytes later than the last one ended
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((bytes + regions * ALIGN) / PAGE)) });
    this.run = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as unknown as Exports;
  }

  float32(count: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.carve(count * 4), count);
  }

  uint16(count: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, this.carve(count * 2), count);
  }

  private carve(bytes: number): number {
    const at = Math.ceil(this.next / ALIGN) * ALIGN;
    if (at + bytes > this.memory.buffer.byteLength) throw new Error(`kernel memory: ${bytes} bytes do not fit the memory sized for them`);
    this.next = at + bytes;
    return at;
  }
}
