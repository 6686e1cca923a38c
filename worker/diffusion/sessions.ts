/**
 * One onnxruntime session per ONNX file, created once per process and reused:
 * creating and releasing sessions repeatedly leaks native memory in onnxruntime-node.
 * Inputs are built from what the session's metadata says (dtype, rank), so one caller
 * serves fp32 and fp16 exports, int32 and int64 ids, scalar and batched timesteps.
 */
import * as ort from 'onnxruntime-node';
import { float16ToFloat32, float32ToFloat16 } from './float16.ts';

export interface ValueSpec {
  name: string;
  /** ORT tensor type ('float32', 'float16', 'int64', ...) or 'non-tensor' */
  type: string;
  /** numbers for fixed dims, names for symbolic ones; [] for a scalar */
  shape: readonly (number | string)[];
}

/** Sum of session.run() wall time, shared by the sessions of a pipeline. */
export class RunClock {
  ms = 0;
  runs = 0;
}

export interface SessionSettings {
  providers: string[];
  intraOpThreads?: number;
  freeDimensionOverrides?: Record<string, number>;
}

function specs(meta: readonly ort.InferenceSession.ValueMetadata[]): Map<string, ValueSpec> {
  const out = new Map<string, ValueSpec>();
  for (const m of meta) out.set(m.name, m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] });
  return out;
}

export function sessionOptions(s: SessionSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: s.providers,
    graphOptimizationLevel: 'all',
    ...(s.intraOpThreads ? { intraOpNumThreads: s.intraOpThreads } : {}),
    ...(s.freeDimensionOverrides && Object.keys(s.freeDimensionOverrides).length > 0 ? { freeDimensionOverrides: s.freeDimensionOverrides } : {}),
  };
}

/** Reads a file's I/O metadata with a throwaway CPU session (used to plan dimension overrides). */
export async function probe(file: string): Promise<{ inputs: Map<string, ValueSpec>; outputs: Map<string, ValueSpec> }> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  try {
    return { inputs: specs(session.inputMetadata), outputs: specs(session.outputMetadata) };
  } finally {
    await session.release();
  }
}

export class OnnxModel {
  /** this session's own share of the clock */
  runMs = 0;

  private constructor(
    readonly label: string,
    readonly file: string,
    private readonly session: ort.InferenceSession,
    readonly inputs: Map<string, ValueSpec>,
    readonly outputs: Map<string, ValueSpec>,
    private readonly clock: RunClock,
  ) {}

  /**
   * From the file path, not a buffer: an external-data model (`model.onnx` + `weights.pb`)
   * only finds its weights relative to the file.
   */
  static async load(file: string, label: string, settings: SessionSettings, clock: RunClock): Promise<OnnxModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, sessionOptions(settings));
    } catch (err) {
      throw new Error(`${label}: onnxruntime could not load it with providers [${settings.providers.join(', ')}]: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new OnnxModel(label, file, session, specs(session.inputMetadata), specs(session.outputMetadata), clock);
  }

  input(name: string): ValueSpec {
    const spec = this.inputs.get(name);
    if (!spec) throw new Error(`${this.label} has no input ${JSON.stringify(name)}`);
    return spec;
  }

  /** Float data as the input's float type wants it (fp16 inputs get half bits). */
  floatTensor(name: string, data: Float32Array, dims: readonly number[]): ort.Tensor {
    const type = this.input(name).type;
    if (type === 'float16') return new ort.Tensor('float16', float32ToFloat16(data), dims);
    if (type === 'float32') return new ort.Tensor('float32', data, dims);
    if (type === 'float64') return new ort.Tensor('float64', Float64Array.from(data), dims);
    throw new Error(`${this.label}: input ${name} is ${type}, expected a float type`);
  }

  /** Integers for an int32 or int64 input (ids, timesteps). */
  intTensor(name: string, values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
    const type = this.input(name).type;
    if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(values), dims);
    if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
    throw new Error(`${this.label}: input ${name} is ${type}, expected int32 or int64`);
  }

  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const start = performance.now();
    try {
      return await this.session.run(feeds);
    } catch (err) {
      throw new Error(`${this.label}: run failed: ${(err as Error).message}`, { cause: err });
    } finally {
      const ms = performance.now() - start;
      this.clock.ms += ms;
      this.clock.runs += 1;
      this.runMs += ms;
    }
  }

  /** One of this model's float outputs as float32 values (fp16 outputs converted). */
  floats(tensor: ort.Tensor): Float32Array {
    return readFloats(tensor, this.label);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Any float output as float32 values. */
export function readFloats(tensor: ort.Tensor, label: string): Float32Array {
  switch (tensor.type) {
    case 'float32':
      return tensor.data as Float32Array;
    case 'float16':
      return float16ToFloat32(tensor.data as unknown as Uint16Array);
    case 'float64':
      return Float32Array.from(tensor.data as Float64Array);
    default:
      throw new Error(`${label}: output is ${tensor.type}, expected a float type`);
  }
}
