/**
 * VAE decode (latents -> image) and encode (image -> latents), one image per run (fp16
 * VAEs misbehave on batches > 1), tiled with overlap above a size so memory stays
 * bounded at 1024x1024 and beyond.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxModel } from './sessions.ts';
import { readFloats } from './sessions.ts';
import type { VaeDecoderIO, VaeEncoderIO } from './model-contract.ts';
import { DEFAULT_VAE_TILING, fitsOneTile, runTiled, type Tiling } from './tiling.ts';
import { chwToRgb, halfChwToRgb } from './images.ts';


export class Vae {
  constructor(
    private readonly decoder: OnnxModel,
    private readonly decoderIO: VaeDecoderIO,
    private readonly encoder: OnnxModel | undefined,
    private readonly encoderIO: VaeEncoderIO | undefined,
    readonly scalingFactor: number,
    /** image pixels per latent pixel */
    readonly scale: number,
    readonly latentChannels: number,
    readonly tiling: Tiling = DEFAULT_VAE_TILING,
    /** the VAE config's force_upcast: this VAE is known to overflow in float16 */
    private readonly forceUpcast = false,
  ) {}

  get canEncode(): boolean {
    return this.encoder !== undefined;
  }

  /** One image's scaled latents [C, h, w] -> image [3, h*scale, w*scale], roughly in [-1, 1]. */
  async decode(latent: Float32Array, height: number, width: number): Promise<Float32Array> {
    return runTiled(this.unscaled(latent), this.latentChannels, height, width, this.tiling, { inPerUnit: 1, outPerUnit: this.scale, outChannels: 3 }, async (tile, h, w) => {
      const image = readFloats(await this.runDecoder(tile, h, w), this.decoder.label);
      if (this.guardsOverflow) this.refuseOverflow(image);
      return image;
    });
  }

  /**
   * One image's scaled latents -> interleaved RGB bytes (diffusers' postprocess). An fp16
   * decoder's image that needs no tiling goes from its half bits to bytes in one pass, without
   * the float32 copy of the whole image.
   */
  async decodeToRgb(latent: Float32Array, height: number, width: number): Promise<Uint8Array> {
    const imageH = height * this.scale;
    const imageW = width * this.scale;
    if (!fitsOneTile(height, width, this.tiling) || this.decoderIO.output.type !== 'float16') return chwToRgb(await this.decode(latent, height, width), imageW, imageH);
    const bits = (await this.runDecoder(this.unscaled(latent), height, width)).data as unknown as Uint16Array;
    if (bits.length !== 3 * imageH * imageW) throw new Error(`${this.decoder.label}: ${this.decoderIO.output.name} has ${bits.length} values, expected 3x${imageH}x${imageW}`);
    if (this.guardsOverflow && hasInfOrNaN(bits)) throw this.overflowError();
    return halfChwToRgb(bits, imageW, imageH);
  }

  /** One decoder run over unscaled latents [C, h, w]: its image output. */
  private async runDecoder(unscaled: Float32Array, h: number, w: number): Promise<ort.Tensor> {
    const name = this.decoderIO.latent.name;
    const out = await this.decoder.run({ [name]: this.decoder.floatTensor(name, unscaled, [1, this.latentChannels, h, w]) });
    return out[this.decoderIO.output.name];
  }

  /** A float16 decoder whose config sets force_upcast: its output is checked for overflow. */
  private get guardsOverflow(): boolean {
    return this.forceUpcast && this.decoderIO.latent.type === 'float16';
  }

  private unscaled(latent: Float32Array): Float32Array {
    const out = new Float32Array(latent.length);
    for (let i = 0; i < latent.length; i++) out[i] = latent[i] / this.scalingFactor;
    return out;
  }

  /**
   * diffusers runs a force_upcast VAE in float32 because SDXL's VAE overflows in float16
   * (NaN or Inf pixels: a black image). An ONNX file's precision is fixed at export, so
   * the float32 run must be the export's: say so instead of delivering a black picture.
   */
  private refuseOverflow(image: Float32Array): void {
    for (let i = 0; i < image.length; i++) if (!Number.isFinite(image[i])) throw this.overflowError();
  }

  private overflowError(): Error {
    return new Error(
      `${this.decoder.label}: the float16 VAE decoder overflowed (NaN/Inf), as its config's force_upcast warns; ` +
        'export vae_decoder in float32, or use a VAE fixed for float16 (e.g. madebyollin/sdxl-vae-fp16-fix)',
    );
  }

  /** One image [3, H, W] in [-1, 1] -> scaled latents [C, H/scale, W/scale] (the mean for latent_parameters). */
  async encode(image: Float32Array, height: number, width: number): Promise<Float32Array> {
    const encoder = this.encoder;
    const io = this.encoderIO;
    if (!encoder || !io) throw new Error('this model folder has no vae_encoder/model.onnx (needed for img2img and upscaling)');
    const C = this.latentChannels;
    const name = io.image.name;
    const latents = await runTiled(image, 3, height, width, this.tiling, { inPerUnit: this.scale, outPerUnit: 1, outChannels: C }, async (tile, h, w) => {
      const out = await encoder.run({ [name]: encoder.floatTensor(name, tile, [1, 3, h, w]) });
      const values = readFloats(out[io.output.name], encoder.label);
      const plane = (h / this.scale) * (w / this.scale);
      const expected = io.parameters ? 2 * C : C;
      if (values.length !== expected * plane) {
        throw new Error(`${encoder.label}: ${io.output.name} has ${values.length / plane} channels, expected ${expected}`);
      }
      // latent_parameters stacks mean then logvar on the channel axis: the mean is the first C planes
      return io.parameters ? values.slice(0, C * plane) : values;
    });
    const out = new Float32Array(latents.length);
    for (let i = 0; i < out.length; i++) out[i] = latents[i] * this.scalingFactor;
    return out;
  }
}

/** Whether any half is Inf or NaN (its exponent bits all set). */
function hasInfOrNaN(bits: Uint16Array): boolean {
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7c00) === 0x7c00) return true;
  return false;
}
