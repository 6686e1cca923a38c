/**
 * Edits a shipped ONNX model at the protobuf level: an output fed through Mul-by-zero, an input
 * fed through a Gather that reorders it. The model is decoded with onnx-builder.ts's schema and
 * must encode back to the same bytes before any edit, so a field the schema does not know can
 * never be dropped without notice. Tests use it to break one wire of a real model and show that
 * the product notices: the edited model keeps every input and output name, dtype and shape.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ModelProto } from '../../kit/onnx-builder.ts';

interface NodeMsg {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: { g?: GraphMsg; graphs?: GraphMsg[] }[];
}
interface TensorMsg {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
interface GraphMsg {
  node: NodeMsg[];
  initializer: TensorMsg[];
  input: { name: string; type?: { tensorType?: { elemType: number } } }[];
  output: { name: string }[];
}
export interface OnnxModel {
  graph: GraphMsg;
}

export function readOnnxModel(file: string): OnnxModel {
  const bytes = readFileSync(file);
  const model = ModelProto.decode(bytes);
  const again = ModelProto.encode(model).finish();
  if (again.length !== bytes.length) {
    throw new Error(`${file}: ${bytes.length - again.length} bytes lost decoding and encoding it again: the ONNX schema in onnx-builder.ts lacks a field this model uses`);
  }
  return model as unknown as OnnxModel;
}

export function writeOnnxModel(file: string, model: OnnxModel): void {
  writeFileSync(file, ModelProto.encode(ModelProto.fromObject(model as object)).finish());
}

/** Points every use of `from` (subgraphs of If/Loop included, which may read outer names) at `to`. */
function renameUses(graph: GraphMsg, from: string, to: string): number {
  let count = 0;
  for (const node of graph.node) {
    node.input = node.input.map((name) => (name === from ? (count++, to) : name));
    for (const attr of node.attribute) {
      for (const sub of [...(attr.g ? [attr.g] : []), ...(attr.graphs ?? [])]) count += renameUses(sub, from, to);
    }
  }
  return count;
}

const FLOAT = 1;
const INT64 = 7;

/**
 * The graph output `name` reads zeros from now on: its producer writes `name.intact` instead,
 * which every other node still reads, and a Mul by 0 makes `name`. Only what leaves the model changes.
 */
export function zeroOutput(model: OnnxModel, name: string): void {
  const graph = model.graph;
  if (!graph.output.some((o) => o.name === name)) throw new Error(`no graph output ${name}`);
  const producer = graph.node.find((n) => n.output.includes(name));
  if (!producer) throw new Error(`no node produces ${name}`);
  const intact = `${name}.intact`;
  producer.output = producer.output.map((o) => (o === name ? intact : o));
  renameUses(graph, name, intact);
  const zero = `${name}.zero`;
  graph.initializer.push({ name: zero, dims: [], dataType: FLOAT, rawData: Buffer.from(new Float32Array([0]).buffer) } as TensorMsg);
  // Appended last: nodes must stay in topological order, and its input exists by then.
  graph.node.push({ input: [intact, zero], output: [name], name: `${name}.zeroed`, opType: 'Mul', attribute: [] } as unknown as NodeMsg);
}

/** Every node reads the graph input `name` with its entries along `axis` taken in `order` (a Gather). */
export function permuteInput(model: OnnxModel, name: string, axis: number, order: number[]): void {
  const graph = model.graph;
  if (!graph.input.some((i) => i.name === name)) throw new Error(`no graph input ${name}`);
  const permuted = `${name}.permuted`;
  if (renameUses(graph, name, permuted) === 0) throw new Error(`no node reads ${name}`);
  const indices = `${name}.order`;
  graph.initializer.push({ name: indices, dims: [order.length], dataType: INT64, rawData: Buffer.from(BigInt64Array.from(order, BigInt).buffer) } as TensorMsg);
  // First: every node that reads the input now reads the Gather's output.
  graph.node.unshift({ input: [name, indices], output: [permuted], name: `${name}.permute`, opType: 'Gather', attribute: [{ name: 'axis', type: 2, i: axis }] } as unknown as NodeMsg);
}
