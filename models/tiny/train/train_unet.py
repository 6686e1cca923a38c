"""Stage 2: encode the training latents once, then train the UNet and text encoder together."""
import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from networks import TextEncoder, UNet, count_params
from noise_schedule import TRAIN_STEPS, alphas_cumprod
from scene import caption, random_scene, render, to_tensor_range
from stages import cached

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


class SdFamily:
    """What the training loop needs to know about Stable Diffusion 1.x's conditioning: one text
    encoder whose last hidden state the UNet attends to; a dropped caption becomes the empty prompt."""

    def __init__(self, cfg, vocab_size, bpe):
        self.cfg, self.vocab_size = cfg, vocab_size
        self.empty = torch.tensor(bpe.input_ids(""), dtype=torch.long)

    def build(self):
        text_encoder, unet = build_nets(self.cfg, self.vocab_size)
        return {"text_encoder": text_encoder, "unet": unet}

    def predict(self, nets, xt, t, group, idx, form, drop):
        ids = group["ids"][idx, form].long()
        ids[drop] = self.empty
        return nets["unet"](xt, t, nets["text_encoder"](ids))


def _lr(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


@torch.no_grad()
def _ema(ema, live, decay):
    for e, p in zip(ema.parameters(), live.parameters()):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train_unet(cfg, data, family, log, resume=None, checkpoint=None):
    """Trains the family's networks (text encoders and UNet) together from scratch, or with `resume`
    (the previous round's weights) for another round of `unet_resume_steps` steps under a fresh
    warm-up and cosine schedule. Returns the EMA weights of every network and the seconds taken.
    With `checkpoint` (a path), the EMA weights are also saved there every 200 steps, so a run cut
    short still leaves a usable model."""
    steps, peak, warmup, seed = cfg["unet_steps"], cfg["unet_lr"], cfg["unet_warmup"], cfg["seed"] + 1
    if resume is not None:
        steps, peak, warmup, seed = cfg["unet_resume_steps"], cfg["unet_resume_lr"], 50, cfg["seed"] + 11
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    nets = family.build()
    if resume is not None:
        for name, net in nets.items():
            net.load_state_dict(resume[name])
    log(", ".join(f"{name} {count_params(net)} parameters" for name, net in nets.items()))
    emas = {name: copy.deepcopy(net).eval() for name, net in nets.items()}
    params = [p for net in nets.values() for p in net.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg["unet_lr"], weight_decay=0.01)
    acp = alphas_cumprod()
    snr = acp / (1 - acp)
    # Min-SNR weighting for epsilon prediction: low-noise steps stop dominating the loss.
    weight = torch.clamp(snr, max=cfg["min_snr_gamma"]) / snr
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
        drop = torch.from_numpy(rng.random(batch) < cfg["caption_dropout"])
        x0 = group["latents"][idx] * sf
        t = torch.from_numpy(rng.integers(0, TRAIN_STEPS, batch))
        noise = torch.randn_like(x0)
        a = acp[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = family.predict(nets, xt, t, group, idx, form, drop)
        loss = (F.mse_loss(pred, noise, reduction="none").mean(dim=(1, 2, 3)) * weight[t]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(cfg["ema_decay"], (1 + step) / (10 + step))
        for name, net in nets.items():
            _ema(emas[name], net, decay)
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 100 == 0 or step == steps - 1:
            log(f"unet step {step}/{steps} loss {running:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{time.time() - start:.0f}s")
        if checkpoint and step % 200 == 199:
            torch.save({**{name: ema.state_dict() for name, ema in emas.items()}, "steps": step + 1,
                        "round": 1 if resume is None else 2, "seconds": time.time() - start}, checkpoint)
    return {**{name: ema.state_dict() for name, ema in emas.items()}, "seconds": time.time() - start}


def train_rounds(cfg, data, family, cache_dir, key, log, checkpoint=None):
    """The first round, cached under `key`, and with `unet_resume_steps` a second one from its EMA
    weights, cached under `key` plus the round's settings. Returns the final weights and a report."""
    nets = cached(os.path.join(cache_dir, "unet.pt"), key,
                  lambda: train_unet(cfg, data, family, log, checkpoint=checkpoint))
    report = {"steps": cfg["unet_steps"], "train_seconds": round(nets["seconds"])}
    if cfg["unet_resume_steps"]:
        resume_key = {**key, "unet_resume_steps": cfg["unet_resume_steps"], "unet_resume_lr": cfg["unet_resume_lr"]}
        first = nets
        nets = cached(os.path.join(cache_dir, "unet-round2.pt"), resume_key,
                      lambda: train_unet(cfg, data, family, log, resume=first, checkpoint=checkpoint))
        report.update({"round2_steps": cfg["unet_resume_steps"], "round2_seconds": round(nets["seconds"])})
    return nets, report
