"""Stage 2: encode the training latents once, then train the UNet and text encoder together."""
import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from networks import TextEncoder, UNet, count_params
from noise_schedule import TRAIN_STEPS, alphas_cumprod
from scene import caption, random_scene, render, to_tensor_range

# (with size word, with position phrase): every scene is seen under all four caption forms.
CAPTION_FORMS = [(True, True), (True, False), (False, True), (False, False)]


@torch.no_grad()
def encode_latents(cfg, enc, triples, bpe, log):
    start = time.time()
    groups, square = [], None
    for i, (width, height, count) in enumerate(cfg["canvases"]):
        rng = np.random.default_rng(cfg["seed"] + 100 + i)
        scenes = [random_scene(rng, triples) for _ in range(count)]
        latents = []
        for j in range(0, count, 256):
            x = torch.from_numpy(to_tensor_range(render(scenes[j:j + 256], width, height)))
            latents.append(enc(x)[0])
        ids = torch.tensor([[bpe.input_ids(caption(sc, *form)) for form in CAPTION_FORMS] for sc in scenes],
                           dtype=torch.int16)
        groups.append({"latents": torch.cat(latents), "ids": ids, "size": (width, height)})
        if (width, height) == (64, 64):
            square = groups[-1]["latents"]
        log(f"latents {width}x{height}: {count} scenes, {time.time() - start:.0f}s")
    # SD's 0.18215 plays this role: it brings the latents the UNet sees to unit variance.
    scaling_factor = float(1.0 / square.std())
    log(f"latent mean {square.mean():.3f} std {square.std():.3f} -> scaling_factor {scaling_factor:.5f}")
    return {"groups": groups, "scaling_factor": scaling_factor, "seconds": time.time() - start}


def build_nets(cfg, vocab_size):
    text_encoder = TextEncoder(vocab_size, dim=cfg["text_dim"], layers=cfg["text_layers"], mlp=cfg["text_mlp"])
    unet = UNet(chs=tuple(cfg["unet_channels"]), ctx_dim=cfg["text_dim"], attn=tuple(cfg["unet_attention"]))
    return text_encoder, unet


def _lr(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


@torch.no_grad()
def _ema(ema, live, decay):
    for e, p in zip(ema.parameters(), live.parameters()):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train_unet(cfg, data, vocab_size, bpe, log, resume=None):
    """Trains from scratch, or with `resume` (the previous round's weights) for another round
    of `unet_resume_steps` steps under a fresh warm-up and cosine schedule."""
    steps, peak, warmup, seed = cfg["unet_steps"], cfg["unet_lr"], cfg["unet_warmup"], cfg["seed"] + 1
    if resume is not None:
        steps, peak, warmup, seed = cfg["unet_resume_steps"], cfg["unet_resume_lr"], 50, cfg["seed"] + 11
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text_encoder, unet = build_nets(cfg, vocab_size)
    if resume is not None:
        text_encoder.load_state_dict(resume["text_encoder"])
        unet.load_state_dict(resume["unet"])
    log(f"unet {count_params(unet)} parameters, text encoder {count_params(text_encoder)}")
    ema_te, ema_unet = copy.deepcopy(text_encoder).eval(), copy.deepcopy(unet).eval()
    params = list(text_encoder.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=cfg["unet_lr"], weight_decay=0.01)
    acp = alphas_cumprod()
    snr = acp / (1 - acp)
    # Min-SNR weighting for epsilon prediction: low-noise steps stop dominating the loss.
    weight = torch.clamp(snr, max=cfg["min_snr_gamma"]) / snr
    empty = torch.tensor(bpe.input_ids(""), dtype=torch.long)
    groups = data["groups"]
    sizes = np.array([len(g["latents"]) for g in groups], dtype=np.float64)
    sf = data["scaling_factor"]
    batch = cfg["unet_batch"]
    start = time.time()
    running = 0.0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, peak, warmup)
        group = groups[rng.choice(len(groups), p=sizes / sizes.sum())]
        idx = torch.from_numpy(rng.integers(0, len(group["latents"]), batch))
        form = torch.from_numpy(rng.integers(0, len(CAPTION_FORMS), batch))
        ids = group["ids"][idx, form].long()
        drop = torch.from_numpy(rng.random(batch) < cfg["caption_dropout"])
        ids[drop] = empty
        x0 = group["latents"][idx] * sf
        t = torch.from_numpy(rng.integers(0, TRAIN_STEPS, batch))
        noise = torch.randn_like(x0)
        a = acp[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = unet(xt, t, text_encoder(ids))
        loss = (F.mse_loss(pred, noise, reduction="none").mean(dim=(1, 2, 3)) * weight[t]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(cfg["ema_decay"], (1 + step) / (10 + step))
        _ema(ema_te, text_encoder, decay)
        _ema(ema_unet, unet, decay)
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 100 == 0 or step == steps - 1:
            log(f"unet step {step}/{steps} loss {running:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{time.time() - start:.0f}s")
    return {"text_encoder": ema_te.state_dict(), "unet": ema_unet.state_dict(), "seconds": time.time() - start}
