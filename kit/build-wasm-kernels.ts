/**
 * Assembles the WebAssembly kernels from their text sources (`npm run build:kernels`). The
 * `.wasm` files are committed beside their `.wat`, so installing and running need no assembler;
 * test/diffusion/step-kernels.test.ts checks that each committed binary is what its source
 * assembles to.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

/** The kernel sources, relative to the repository root. */
export const KERNEL_SOURCES = ['worker/diffusion/kernels/step-kernels.wat', 'worker/diffusion/kernels/sampler-kernels.wat'];

const root = fileURLToPath(new URL('..', import.meta.url));

/** The binary module a `.wat` source assembles to. */
export async function assembleWat(source: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat(source, fs.readFileSync(root + source, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const source of KERNEL_SOURCES) {
    const wasm = await assembleWat(source);
    const target = source.replace(/\.wat$/, '.wasm');
    fs.writeFileSync(root + target, wasm);
    console.log(`${target}: ${wasm.length} bytes`);
  }
}
