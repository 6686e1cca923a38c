/**
 * What a model family decides, in one place each: which files its folder must have, how
 * a prompt becomes the UNet's conditioning, which extra inputs its UNet takes, its VAE's
 * latent scale, its default sizes and sampling settings, and how a latent previews. The
 * rest of the pipeline (sessions, schedulers, batching, VAE, images) is shared. A new
 * family (SD3, an inpainting UNet) is one file implementing ModelFamily plus a row in
 * families/index.ts, on top of its catalog row in src/model-families.ts (how its folder is
 * recognized, its default size and sampling settings).
 */
import type { FamilyIdentity, FamilySettings } from '../../../src/model-families.ts';
import type { OnnxModel } from '../sessions.ts';
import type { ModelInterface, UNetIO, UNetInputRule } from '../model-contract.ts';
import type { ModelFolder } from '../model-folder.ts';
import type { Tiling } from '../tiling.ts';

/** One image's UNet inputs besides `sample` and `timestep`, by input name, without the batch axis. */
export type Conditioning = Readonly<Record<string, Float32Array>>;

export interface FamilyDefaults extends FamilySettings {
  /** latent scaling factor when the VAE config names none */
  scalingFactor: number;
  /** run the VAE in float32 (diffusers' `force_upcast`) when the VAE config does not say */
  forceUpcast: boolean;
  /** VAE tiles in latent pixels: the size the VAE was trained at, a quarter overlapping (diffusers' tiled VAE) */
  vaeTiling: Tiling;
}

/** A file the family's folder must have, relative to the folder. */
export interface FamilyFile {
  key: string;
  rel: string;
  what: string;
}

/** Rows: latent channel; columns: R, G, B (plus a bias per colour). */
export interface LatentRgb {
  factors: readonly (readonly [number, number, number])[];
  bias: readonly [number, number, number];
}

/** What the family's planning needs from the folder, before any session exists. */
export interface TextPlanContext {
  folder: ModelFolder;
  unet: UNetIO;
  /** the file's ONNX interface (its external weights checked) */
  iface(file: string): ModelInterface;
  /** `model folder <dir>: <relative path>`, the prefix of every refusal */
  label(file: string): string;
}

export interface EncoderSession {
  key: string;
  file: string;
  /** free dimensions whose size the pipeline knows (sequence length) */
  overrides: Record<string, number>;
}

export interface TextPlan {
  encoders: EncoderSession[];
  /** the UNet's encoder_hidden_states width, when it can be known */
  hiddenSize?: number;
  /** token positions the encoders produce (CLIP: 77) */
  sequence: number;
  /** what the start-up log line shows about the text side */
  summary: Record<string, unknown>;
  /** Builds the prompt encoder once the sessions named in `encoders` are loaded, by key. */
  createConditioner(models: Readonly<Record<string, OnnxModel>>): Conditioner;
}

export interface Conditioner {
  /** The UNet inputs a prompt conditions (encoder_hidden_states and the family's text extras). */
  prompt(text: string): Promise<Conditioning>;
  /**
   * The unconditional half of classifier-free guidance: the negative prompt's conditioning,
   * or what the family uses when there is none. `cond` is the prompt's, for its shape.
   */
  unconditional(negative: string | undefined, cond: Conditioning): Promise<Conditioning>;
  /** Inputs that depend on the picture, not the text (SDXL's time ids); the same in both halves. */
  image(size: { width: number; height: number }): Conditioning;
}

export interface ModelFamily extends FamilyIdentity {
  /** the text side's files (tokenizers, encoders); the UNet, VAE and scheduler are every family's */
  readonly files: readonly FamilyFile[];
  readonly defaults: FamilyDefaults;
  /** UNet inputs this family feeds besides sample, timestep, encoder_hidden_states (and LCM's timestep_cond) */
  readonly unetInputs: readonly UNetInputRule[];
  readonly latentRgb: LatentRgb;
  /** Checks the text encoders against the UNet from the files alone and plans their sessions. */
  planText(ctx: TextPlanContext): TextPlan;
}
