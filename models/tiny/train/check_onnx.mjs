// Runs the exported models with onnxruntime-node, the runtime the product serves them with, on
// inputs the Python tool wrote, and writes the outputs back for it to compare with PyTorch.
// Usage: node models/tiny/train/check_onnx.mjs <dir with manifest.json>
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

const ARRAYS = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array };

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const sessions = new Map();
const results = [];
for (const entry of manifest) {
  if (!sessions.has(entry.model)) sessions.set(entry.model, await ort.InferenceSession.create(entry.model));
  const session = sessions.get(entry.model);
  const feeds = {};
  for (const [name, spec] of Object.entries(entry.inputs)) {
    const bytes = readFileSync(spec.file);
    const Array = ARRAYS[spec.dtype];
    if (!Array) throw new Error(`unsupported dtype ${spec.dtype} for ${name}`);
    const data = new Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    feeds[name] = new ort.Tensor(spec.dtype, data, spec.shape);
  }
  const out = await session.run(feeds);
  const outputs = {};
  for (const [name, tensor] of Object.entries(out)) {
    if (tensor.type !== 'float32') throw new Error(`${entry.model}: output ${name} is ${tensor.type}`);
    const file = path.join(dir, `${entry.id}-out-${name}.bin`);
    writeFileSync(file, Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    outputs[name] = { file, shape: tensor.dims };
  }
  results.push({ id: entry.id, outputs });
}
writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results));
