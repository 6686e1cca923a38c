"""Stage 3: generate from captions and score the images with the pixel check."""
import time

import numpy as np
import torch

from noise_schedule import ddim_sample
from pixel_check import check_image
from scene import Scene, caption
from train_unet import build_nets

STEPS = 20


def load_nets(cfg, nets, vocab_size):
    text_encoder, unet = build_nets(cfg, vocab_size)
    text_encoder.load_state_dict(nets["text_encoder"])
    unet.load_state_dict(nets["unet"])
    return text_encoder.eval(), unet.eval()


@torch.no_grad()
def generate(bpe, text_encoder, unet, dec, sf, prompts, width, height, guidance, seed):
    gen = torch.Generator().manual_seed(seed)
    cond = text_encoder(torch.tensor([bpe.input_ids(p) for p in prompts]))
    uncond = text_encoder(torch.tensor([bpe.input_ids("")])).expand(len(prompts), -1, -1)
    z = ddim_sample(unet, cond, uncond, (len(prompts), 4, height // 8, width // 8), STEPS, guidance, gen)
    return decode_images(dec, z, sf)


def decode_images(dec, z, sf):
    """Latents -> uint8 NHWC images, as the product decodes them."""
    img = dec(z / sf).clamp(-1, 1)
    return ((img + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _score(images, triples):
    results = [check_image(img, {"shape": s, "color": c, "bg": b}) for img, (s, c, b) in zip(images, triples)]
    n = len(results)
    return {
        "n": n,
        "background": round(sum(r["bg_ok"] for r in results) / n, 4),
        "shape_color": round(sum(r["color_ok"] for r in results) / n, 4),
        "shape": round(sum(r["shape_ok"] for r in results) / n, 4),
        "all": round(sum(r["bg_ok"] and r["color_ok"] and r["shape_ok"] for r in results) / n, 4),
    }


def _short(triple):
    shape, color, bg = triple
    return caption(Scene(shape, color, bg, "small", "center"), with_size=False, with_pos=False)


def eval_sets(cfg, held, train_triples):
    """The held-out combinations twice (two noises each), and as many combinations seen in training."""
    rng = np.random.default_rng(cfg["seed"] + 9)
    seen = [train_triples[i] for i in rng.choice(len(train_triples), len(held), replace=False)]
    return held + held, seen


def evaluate(cfg, held, train_triples, bpe, text_encoder, unet, dec, sf, log, grid_path=None):
    start = time.time()
    twice, seen = eval_sets(cfg, held, train_triples)
    prompts = [_short(t) for t in twice]
    out, grids = {}, []
    for name, guidance in (("held_out_cfg5", 5.0), ("held_out_cfg2", 2.0), ("held_out_cfg1", 1.0)):
        images = generate(bpe, text_encoder, unet, dec, sf, prompts, 64, 64, guidance, seed=1)
        out[name] = _score(images, twice)
        grids.append(images)
    images = generate(bpe, text_encoder, unet, dec, sf, [_short(t) for t in seen + seen], 64, 64, 5.0, seed=1)
    out["seen_cfg5"] = _score(images, seen + seen)
    # Full caption forms, with the size word and a position.
    full = [caption(Scene(s, c, b, ("small", "large")[i % 2], ("top left", "bottom right", "center")[i % 3]))
            for i, (s, c, b) in enumerate(held)]
    images = generate(bpe, text_encoder, unet, dec, sf, full, 64, 64, 5.0, seed=2)
    out["held_out_full_caption_cfg5"] = _score(images, held)
    images = generate(bpe, text_encoder, unet, dec, sf, [_short(t) for t in held], 96, 64, 5.0, seed=3)
    out["held_out_96x64_cfg5"] = _score(images, held)
    log(f"evaluation ({STEPS} DDIM steps) in {time.time() - start:.0f}s")
    for k, v in out.items():
        log(f"  {k}: {v}")
    if grid_path:
        _save_grid(grid_path, np.concatenate(grids))
    return out


def _save_grid(path, images, cols=18):
    try:
        from PIL import Image
    except ImportError:
        return
    n, h, w, _ = images.shape
    rows = (n + cols - 1) // cols
    grid = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        grid[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = img
    Image.fromarray(grid).save(path)
