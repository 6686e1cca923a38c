"""The VAE of models/tiny, read back from its shipped ONNX files, rescaled to SDXL's latent scale.

SDXL's pipelines multiply latents by the folder's scaling_factor 0.13025. A constant k is folded
into the networks: the encoder's mean comes out k times larger and the decoder divides its input
by k, so decode(encode(x)) is unchanged and latents * 0.13025 have unit std. k is measured on the
encoder's means of seeded scenes (2.7595 with the tool's settings; tiny's 0.36032 / 0.13025 =
2.7664 says the same within 0.3 %). The latents are heavy-tailed (a few scenes make large values),
so the std of a sample of 1024 scenes varies with the sample; the 16000 training latents of the
tool's run land at 1.0001.
"""
import math
import os

import torch

import shared
from networks import VaeDecoder, VaeEncoder
from onnx_weights import read_initializers

SDXL_SCALING_FACTOR = 0.13025


def _load(module, path, prefix=""):
    weights = read_initializers(path)
    state = module.state_dict()
    missing = [k for k in state if prefix + k not in weights]
    if missing:
        raise ValueError(f"{path}: no initializer for {', '.join(missing)}")
    module.load_state_dict({k: torch.from_numpy(weights[prefix + k].copy()) for k in state})


@torch.no_grad()
def load_tiny_vae(calibration_pixels, latent=4):
    """(encoder, decoder, k): models/tiny's VAE with k folded in, in eval mode.
    `calibration_pixels` [N, 3, H, W] in [-1, 1]: the scenes whose latents k brings to unit std."""
    enc, dec = VaeEncoder(latent), VaeDecoder(latent)
    # tiny exported the encoder wrapped (enc.*) and the decoder as is.
    _load(enc, os.path.join(shared.TINY_MODEL, "vae_encoder", "model.onnx"), prefix="enc.")
    _load(dec, os.path.join(shared.TINY_MODEL, "vae_decoder", "model.onnx"))
    std = torch.cat([enc(calibration_pixels[i:i + 256])[0] for i in range(0, len(calibration_pixels), 256)]).std()
    k = float(1.0 / (SDXL_SCALING_FACTOR * std))
    last = enc.net[-1]
    last.weight[:latent] *= k
    last.bias[:latent] *= k
    last.bias[latent:] += 2 * math.log(k)  # the posterior's variance scales by k^2 too
    dec.conv_in.weight /= k
    return enc.eval(), dec.eval(), k
