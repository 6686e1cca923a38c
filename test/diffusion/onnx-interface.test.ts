/** Reading an ONNX file's interface without a session: the same inputs and outputs onnxruntime reports, and knownDims overriding only names with one known value. */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxInterface } from '../../worker/diffusion/onnx-header.ts';
import { knownDims } from '../../worker/diffusion/model-contract.ts';
import { VARIANTS, makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

let root: string;

beforeAll(() => {
  root = makeTempDir('sd-units');
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('ONNX interface without a session', () => {
  it.each(VARIANTS)('reads what onnxruntime reports for $name', async (variant) => {
    const dir = writeTinyModel(root, variant);
    for (const sub of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      const file = path.join(dir, sub, 'model.onnx');
      const session = await ort.InferenceSession.create(file);
      const strip = (m: readonly ort.InferenceSession.ValueMetadata[]) => m.map((v) => (v.isTensor ? { name: v.name, type: v.type, shape: [...v.shape] } : v));
      const iface = readOnnxInterface(file);
      expect(iface.inputs, `${sub} inputs`).toEqual(strip(session.inputMetadata));
      // onnxruntime reports output shapes after its own shape inference (a declared
      // 'sequence' may come back as 77): names, dtypes and ranks must agree
      const brief = (specs: { name: string; type?: string; shape?: readonly unknown[] }[]) => specs.map((o) => [o.name, o.type, o.shape?.length]);
      expect(brief(iface.outputs), `${sub} outputs`).toEqual(brief(strip(session.outputMetadata) as never));
      expect(iface.externalFiles).toEqual(variant.externalData && sub === 'unet' ? ['weights.pb'] : []);
      await session.release();
    }
  });

  it('knownDims overrides only names whose every use has one known value', () => {
    const dims = knownDims(
      [
        { name: 'sample', type: 'float32', shape: ['batch', 'channels', 'height', 'width'] },
        { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 'sequence', 'hidden'] },
        { name: 'other', type: 'float32', shape: ['channels', 'height'] },
      ],
      { sample: [undefined, 4], encoder_hidden_states: [undefined, 77, 768], other: [4, 64] },
    );
    // height is known for `other` but free for `sample`: it stays free
    expect(dims).toEqual({ channels: 4, sequence: 77, hidden: 768 });
  });
});
