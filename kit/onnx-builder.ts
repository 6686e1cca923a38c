/**
 * Writes ONNX models from TypeScript: a minimal subset of onnx.proto (the messages a
 * graph of plain operators needs) compiled by protobufjs, and a small graph builder.
 * Tests use it to make real ONNX files that onnxruntime loads, so the pipeline under
 * test runs the same code path as it does on an exported Stable Diffusion model.
 */
import protobuf from 'protobufjs';
import { float32ToFloat16 } from '../worker/diffusion/float16.ts';

// Field numbers as in onnx/onnx.proto (IR version 8). Beyond what the builder writes, the schema
// holds every field an exporter (torch.onnx) fills, so that a shipped model decoded and encoded
// again comes out whole (onnx-surgery.ts checks that no byte is lost).
const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  string name = 1;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  string doc_string = 13;
  string ref_attr_name = 21;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
  string domain = 7;
}
message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message TensorProto {
  enum DataLocation { DEFAULT = 0; EXTERNAL = 1; }
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7;
  string name = 8;
  bytes raw_data = 9;
  repeated double double_data = 10;
  repeated uint64 uint64_data = 11;
  string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  DataLocation data_location = 14;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
`;

const root = protobuf.parse(ONNX_PROTO).root;
export const ModelProto = root.lookupType('onnx.ModelProto');

export type DType = 'float32' | 'float16' | 'float64' | 'int32' | 'int64' | 'bool';
const ELEM_TYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };
export const ONNX_DTYPE = ELEM_TYPE;

export type Dim = number | string;
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string };

interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  bytes: Buffer;
}

function toBytes(dtype: DType, values: ArrayLike<number>): Buffer {
  switch (dtype) {
    case 'float32':
      return Buffer.from(Float32Array.from(values).buffer);
    case 'float64':
      return Buffer.from(Float64Array.from(values).buffer);
    case 'float16':
      return Buffer.from(float32ToFloat16(values).buffer);
    case 'int32':
      return Buffer.from(Int32Array.from(values).buffer);
    case 'int64':
      return Buffer.from(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
    case 'bool':
      return Buffer.from(Uint8Array.from(values, (v) => (v ? 1 : 0)));
  }
}

function valueInfo(name: string, dtype: DType, shape: Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: Attr) {
  if ('int' in a) return { name, type: 2, i: a.int };
  if ('float' in a) return { name, type: 1, f: a.float };
  if ('ints' in a) return { name, type: 7, ints: a.ints };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  return { name, type: 3, s: Buffer.from(a.string) };
}

export class GraphBuilder {
  private inputs: ReturnType<typeof valueInfo>[] = [];
  private outputs: ReturnType<typeof valueInfo>[] = [];
  private nodes: object[] = [];
  private inits: Initializer[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, dtype: DType, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype: DType, shape: Dim[]): string {
    this.outputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  constant(dtype: DType, dims: number[], values: ArrayLike<number>, name = `c${this.counter++}`): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`initializer ${name}: ${values.length} values for dims [${dims}]`);
    this.inits.push({ name, dtype, dims, bytes: toBytes(dtype, values) });
    return name;
  }

  /** Adds a node; returns its (first) output name. `outputs` defaults to one fresh name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs?: string[]): string {
    const outs = outputs ?? [`v${this.counter++}`];
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: `${opType}_${this.counter++}`,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs[0];
  }

  /**
   * Serializes the model. With `externalData`, every float initializer's bytes go to that
   * file name (returned as `external`) and the model refers to them by offset, as large
   * exported UNets do with `weights.pb`. Integer constants (shapes, axes) stay inline as
   * exporters keep them, since shape inference must read them at load time.
   */
  build(opts: { opset?: number; externalData?: string } = {}): { model: Buffer; external?: Buffer } {
    const externalParts: Buffer[] = [];
    let offset = 0;
    const initializer = this.inits.map((t) => {
      if (!opts.externalData || t.dtype.startsWith('int')) return { name: t.name, dims: t.dims, dataType: ELEM_TYPE[t.dtype], rawData: t.bytes };
      const entry = {
        name: t.name,
        dims: t.dims,
        dataType: ELEM_TYPE[t.dtype],
        dataLocation: 1,
        externalData: [
          { key: 'location', value: opts.externalData },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(t.bytes.length) },
        ],
      };
      externalParts.push(t.bytes);
      offset += t.bytes.length;
      return entry;
    });
    const message = ModelProto.fromObject({
      irVersion: 8,
      producerName: 'imagine-bot-tests',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
      graph: { name: this.name, node: this.nodes, initializer, input: this.inputs, output: this.outputs },
    });
    const model = Buffer.from(ModelProto.encode(message).finish());
    return opts.externalData ? { model, external: Buffer.concat(externalParts) } : { model };
  }
}

/** Deterministic weights for test models (an LCG: the tests need fixed, not random, numbers). */
export function weights(count: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}
