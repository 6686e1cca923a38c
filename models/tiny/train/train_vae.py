"""Stage 1: the KL-VAE (64x64x3 <-> 8x8x4), trained on freshly rendered scenes."""
import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from networks import VaeDecoder, VaeEncoder, count_params
from scene import random_scene, render, to_tensor_range


def _batch(rng, triples, n):
    return torch.from_numpy(to_tensor_range(render([random_scene(rng, triples) for _ in range(n)])))


def _reconstruction_loss(r, x):
    """MSE + L1, plus L1 on horizontal and vertical pixel differences: blur costs little MSE
    but rounds corners off, and corners are what tell a square from a circle."""
    loss = F.mse_loss(r, x) + F.l1_loss(r, x)
    loss = loss + F.l1_loss(r[:, :, 1:] - r[:, :, :-1], x[:, :, 1:] - x[:, :, :-1])
    return loss + F.l1_loss(r[:, :, :, 1:] - r[:, :, :, :-1], x[:, :, :, 1:] - x[:, :, :, :-1])


def _crops(x, rng, size=32):
    """Four 32x32 crops of every scene, at offsets on the latent grid."""
    out = []
    for _ in range(4):
        oy, ox = (int(v) * 8 for v in rng.integers(0, (x.shape[2] - size) // 8 + 1, 2))
        out.append(x[:, :, oy:oy + size, ox:ox + size])
    return torch.cat(out)


def _lr(step, total, peak, warmup=100):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_vae(cfg, triples, log):
    """Two phases: the full KL-VAE with sampled latents, then the decoder alone on the posterior
    mean with the encoder frozen (the UNet only ever hands the decoder mean-like latents).

    The first `vae_crop_steps` steps see 32x32 crops, cut on the 8-pixel latent grid, four per
    scene: both halves of the VAE are convolutional and local, so a crop teaches the same edges
    at a quarter of the cost; the remaining steps are on whole scenes, so borders and the
    interior are both learned as they appear at run time."""
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    enc, dec = VaeEncoder(), VaeDecoder()
    log(f"vae: encoder {count_params(enc)} + decoder {count_params(dec)} parameters")
    steps, dec_steps, batch = cfg["vae_steps"], cfg["vae_decoder_steps"], cfg["vae_batch"]
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=cfg["vae_lr"], weight_decay=0.0)
    start = time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, cfg["vae_lr"])
        if step < cfg["vae_crop_steps"]:
            x = _crops(_batch(rng, triples, batch), rng)
        else:
            x = _batch(rng, triples, batch)
        mean, logvar = enc(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        r = dec(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        loss = _reconstruction_loss(r, x) + cfg["vae_kl"] * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # Without normalisation layers one bad batch can blow the weights up; clipping keeps the
        # high learning rate that makes this stage short.
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} loss {loss.item():.4f} kl {kl.item():.2f} {time.time() - start:.0f}s")

    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    _train_decoder_on_means(enc, dec, rng, triples, dec_steps, batch, cfg["vae_lr"] / 2,
                            lambda step, loss: (step % 100 == 0 or step == dec_steps - 1) and log(
                                f"vae decoder step {step}/{dec_steps} loss {loss:.4f} {time.time() - start:.0f}s"))
    dec.eval()
    return enc, dec, time.time() - start


@torch.no_grad()
def vae_psnr(enc, dec, images_uint8):
    """PSNR (dB, over the whole set) of decode(mean(encode(x))) against the 8-bit source."""
    x = torch.from_numpy(to_tensor_range(images_uint8))
    err, count = 0.0, 0
    for i in range(0, len(x), 64):
        r = dec(enc(x[i:i + 64])[0])
        r = ((r.clamp(-1, 1) + 1) * 127.5).round()
        err += (r - (x[i:i + 64] + 1) * 127.5).pow(2).sum().item()
        count += r.numel()
    return 10 * math.log10(255.0 ** 2 / (err / count))


def sharpen_decoder(cfg, enc, dec, triples, log):
    """Stage 1b, after the UNet: more decoder-only training on whole scenes. The encoder, and so
    every latent the UNet trained on, stays as it is."""
    torch.manual_seed(cfg["seed"] + 2)
    rng = np.random.default_rng(cfg["seed"] + 2)
    dec = copy.deepcopy(dec).train()
    steps, batch = cfg["sharpen_steps"], cfg["vae_batch"]
    start = time.time()
    _train_decoder_on_means(enc, dec, rng, triples, steps, batch, cfg["sharpen_lr"],
                            lambda step, loss: (step % 200 == 0 or step == steps - 1) and log(
                                f"decoder sharpening step {step}/{steps} loss {loss:.4f} {time.time() - start:.0f}s"))
    return dec.eval(), time.time() - start


def _train_decoder_on_means(enc, dec, rng, triples, steps, batch, lr, report):
    """Decoder-only steps on the posterior mean of a frozen encoder: the decoder learns to draw
    exactly the latents the UNet is trained to produce. report(step, loss) sees every step."""
    opt = torch.optim.AdamW(dec.parameters(), lr=lr, weight_decay=0.0)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, lr, warmup=20)
        x = _batch(rng, triples, batch)
        with torch.no_grad():
            mean, _ = enc(x)
        loss = _reconstruction_loss(dec(mean), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        report(step, loss.item())
