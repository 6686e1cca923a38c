/**
 * The inputs and outputs each model of an SD export must have, checked against what the
 * ONNX file declares. Exporters differ in dtypes and in a few forms (a scalar or batched
 * timestep, latent_sample or latent_parameters); anything else is refused up front with
 * the file and the expectation in the message, instead of failing mid-generation.
 */
import type { ValueSpec } from './sessions.ts';

const FLOAT = ['float32', 'float16'];

export interface ModelInterface {
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
}

function fmt(spec: ValueSpec): string {
  return `${spec.name} (${spec.type} [${spec.shape.join(', ')}])`;
}

class Checker {
  constructor(
    private readonly label: string,
    private readonly iface: ModelInterface,
  ) {}

  fail(what: string): never {
    const list = (specs: readonly ValueSpec[]) => specs.map(fmt).join(', ') || 'none';
    throw new Error(`${this.label}: ${what}; the file has inputs ${list(this.iface.inputs)} and outputs ${list(this.iface.outputs)}`);
  }

  input(name: string, types: string[], ranks: number[], optional = false): ValueSpec | undefined {
    const spec = this.iface.inputs.find((i) => i.name === name);
    if (!spec) {
      if (optional) return undefined;
      this.fail(`expected an input named "${name}" (${types.join(' or ')})`);
    }
    this.checkSpec('input', spec, types, ranks);
    return spec;
  }

  output(names: string[], types: string[], ranks: number[], fallbackToFirst: boolean): ValueSpec {
    let spec = this.iface.outputs.find((o) => names.includes(o.name));
    if (!spec && fallbackToFirst && this.iface.outputs.length === 1) spec = this.iface.outputs[0];
    if (!spec) this.fail(`expected an output named ${names.map((n) => `"${n}"`).join(' or ')}`);
    this.checkSpec('output', spec, types, ranks);
    return spec;
  }

  private checkSpec(kind: string, spec: ValueSpec, types: string[], ranks: number[]): void {
    if (!types.includes(spec.type)) this.fail(`${kind} "${spec.name}" is ${spec.type}, expected ${types.join(' or ')}`);
    if (!ranks.includes(spec.shape.length)) {
      this.fail(`${kind} "${spec.name}" has rank ${spec.shape.length}, expected rank ${ranks.join(' or ')}`);
    }
  }

  noOtherInputs(known: string[]): void {
    const extra = this.iface.inputs.filter((i) => !known.includes(i.name));
    if (extra.length > 0) this.fail(`unexpected input(s) ${extra.map((e) => `"${e.name}"`).join(', ')} (this pipeline feeds only ${known.join(', ')})`);
  }
}

export interface TextEncoderIO {
  ids: ValueSpec;
  /** the hidden states the pipeline conditions on (SD: last_hidden_state; SDXL: the penultimate layer) */
  output: ValueSpec;
  /** the pooled projection (SDXL's text_encoder_2: text_embeds) */
  pooled?: ValueSpec;
}

/** SD's CLIP text encoder: input_ids -> last_hidden_state. */
export function checkTextEncoder(label: string, iface: ModelInterface): TextEncoderIO {
  const c = new Checker(label, iface);
  const ids = c.input('input_ids', ['int32', 'int64'], [2])!;
  c.noOtherInputs(['input_ids']);
  const output = c.output(['last_hidden_state'], FLOAT, [3], iface.outputs.length >= 1);
  return { ids, output };
}

const HIDDEN_STATE = /^hidden_states\.(\d+)$/;

/**
 * An SDXL text encoder as Optimum exports it (output_hidden_states): input_ids ->
 * hidden_states.0 .. hidden_states.L (embeddings, then each layer), and for the second
 * encoder the pooled `text_embeds`. SDXL conditions on the penultimate layer,
 * hidden_states.(L-1), as diffusers' encode_prompt takes `hidden_states[-2]`.
 */
export function checkLayeredTextEncoder(label: string, iface: ModelInterface, pooled: string | undefined): TextEncoderIO {
  const c = new Checker(label, iface);
  const ids = c.input('input_ids', ['int32', 'int64'], [2])!;
  c.noOtherInputs(['input_ids']);
  const layers = iface.outputs.map((o) => HIDDEN_STATE.exec(o.name)).filter((m) => m !== null).map((m) => Number(m[1]));
  if (layers.length < 2) {
    c.fail('expected outputs hidden_states.0 .. hidden_states.N (SDXL conditions on the penultimate layer; export with output_hidden_states, as Optimum does)');
  }
  const output = c.output([`hidden_states.${Math.max(...layers) - 1}`], FLOAT, [3], false);
  const pooledSpec = pooled === undefined ? undefined : c.output([pooled], FLOAT, [2], false);
  return { ids, output, pooled: pooledSpec };
}

export type TimestepForm = 'batch' | 'scalar' | 'single';

export interface UNetIO {
  sample: ValueSpec;
  timestep: ValueSpec;
  /** `batch`: one per batch item; `scalar`: shape []; `single`: shape [1] shared by the batch */
  timestepForm: TimestepForm;
  hidden: ValueSpec;
  timestepCond?: ValueSpec;
  /** every input that carries one value per batch item besides sample: hidden states, timestep_cond, the family's extras */
  conditioning: ValueSpec[];
  output: ValueSpec;
}

/** A UNet input a model family adds (SDXL: text_embeds, time_ids), refused by name when missing. */
export interface UNetInputRule {
  name: string;
  rank: number;
  what: string;
}

export function checkUNet(label: string, iface: ModelInterface, extras: readonly UNetInputRule[] = []): UNetIO {
  const c = new Checker(label, iface);
  const sample = c.input('sample', FLOAT, [4])!;
  const timestep = c.input('timestep', ['int64', 'int32', 'float32', 'float16'], [0, 1])!;
  const hidden = c.input('encoder_hidden_states', FLOAT, [3])!;
  const timestepCond = c.input('timestep_cond', FLOAT, [2], true);
  const extraSpecs = extras.map((rule) => {
    if (!iface.inputs.some((i) => i.name === rule.name)) c.fail(`expected an input named "${rule.name}" (${rule.what})`);
    return c.input(rule.name, FLOAT, [rule.rank])!;
  });
  c.noOtherInputs(['sample', 'timestep', 'encoder_hidden_states', 'timestep_cond', ...extras.map((r) => r.name)]);
  const output = c.output(['out_sample'], FLOAT, [4], true);
  const timestepForm: TimestepForm = timestep.shape.length === 0 ? 'scalar' : timestep.shape[0] === 1 ? 'single' : 'batch';
  if (typeof timestep.shape[0] === 'number' && timestep.shape[0] !== 1) {
    c.fail(`input "timestep" has fixed size ${timestep.shape[0]}, expected [] , [1] or [batch]`);
  }
  const conditioning = [hidden, ...(timestepCond ? [timestepCond] : []), ...extraSpecs];
  return { sample, timestep, timestepForm, hidden, timestepCond, conditioning, output };
}

export interface VaeDecoderIO {
  latent: ValueSpec;
  output: ValueSpec;
}

export function checkVaeDecoder(label: string, iface: ModelInterface): VaeDecoderIO {
  const c = new Checker(label, iface);
  const latent = c.input('latent_sample', FLOAT, [4])!;
  c.noOtherInputs(['latent_sample']);
  const output = c.output(['sample'], FLOAT, [4], true);
  return { latent, output };
}

export interface VaeEncoderIO {
  image: ValueSpec;
  output: ValueSpec;
  /** latent_parameters = mean and logvar stacked on channels: the pipeline takes the mean */
  parameters: boolean;
}

export function checkVaeEncoder(label: string, iface: ModelInterface): VaeEncoderIO {
  const c = new Checker(label, iface);
  const image = c.input('sample', FLOAT, [4])!;
  c.noOtherInputs(['sample']);
  const output = c.output(['latent_sample', 'latent_parameters'], FLOAT, [4], false);
  return { image, output, parameters: output.name === 'latent_parameters' };
}

export interface SafetyCheckerIO {
  clipInput: ValueSpec;
  images: ValueSpec;
  verdict: ValueSpec;
}

/** diffusers' OnnxRuntimeModel export of StableDiffusionSafetyChecker. */
export function checkSafetyChecker(label: string, iface: ModelInterface): SafetyCheckerIO {
  const c = new Checker(label, iface);
  const clipInput = c.input('clip_input', FLOAT, [4])!;
  const images = c.input('images', FLOAT, [4])!;
  c.noOtherInputs(['clip_input', 'images']);
  const verdict = c.output(['has_nsfw_concepts'], ['bool'], [1], false);
  return { clipInput, images, verdict };
}

export interface UpscalerIO {
  image: ValueSpec;
  output: ValueSpec;
}

/** An image-to-image model such as a Real-ESRGAN export: one RGB NCHW input, one output. */
export function checkUpscaler(label: string, iface: ModelInterface): UpscalerIO {
  const c = new Checker(label, iface);
  if (iface.inputs.length !== 1) c.fail('expected exactly one input (an RGB image, NCHW)');
  if (iface.outputs.length !== 1) c.fail('expected exactly one output (the upscaled RGB image, NCHW)');
  const image = c.input(iface.inputs[0].name, FLOAT, [4])!;
  const output = c.output([iface.outputs[0].name], FLOAT, [4], true);
  for (const [spec, kind] of [
    [image, 'input'],
    [output, 'output'],
  ] as const) {
    if (typeof spec.shape[1] === 'number' && spec.shape[1] !== 3) c.fail(`${kind} "${spec.name}" has ${spec.shape[1]} channels, expected 3 (RGB)`);
  }
  return { image, output };
}

/** Symbolic dimension names whose value the pipeline knows, for session freeDimensionOverrides. */
export function knownDims(inputs: readonly ValueSpec[], values: Record<string, (number | undefined)[]>): Record<string, number> {
  const seen = new Map<string, number | undefined>();
  for (const spec of inputs) {
    spec.shape.forEach((dim, axis) => {
      if (typeof dim !== 'string' || dim === '') return;
      const value = values[spec.name]?.[axis];
      // a name shared by an axis whose size varies (batch, height) must stay free
      if (seen.has(dim) && seen.get(dim) !== value) seen.set(dim, undefined);
      else if (!seen.has(dim)) seen.set(dim, value);
    });
  }
  const out: Record<string, number> = {};
  for (const [name, value] of seen) if (value !== undefined) out[name] = value;
  return out;
}
