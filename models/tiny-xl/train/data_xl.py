"""Training latents with SDXL's micro-conditioning: every scene carries the time ids
(original_h, original_w, crop_top, crop_left, target_h, target_w) of how its training image was
made, and the image really was made that way, so the ids carry meaning:

- full: the scene drawn at the target size; original = target, crop (0, 0). What inference asks for.
- crop: the scene drawn on a canvas longer on one side (by 8 to 64 px), then a target-sized window
  cut out at a random offset on the 8-px latent grid; original = that canvas, crop = the offset.
  The caption describes the whole canvas, so the window may show the shape shifted or cut.
- low-res: the scene drawn at 1/2 or 3/4 of the target size and upscaled (bilinear), as SDXL's
  small originals are; original = the small size. The image is blurred.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F

import shared  # noqa: F401  (the SD tool's modules)
from scene import caption, random_scene, render, to_tensor_range
from train_unet import CAPTION_FORMS

MODES = ("full", "crop", "lowres")


def draw(rng, scene, width, height, mode):
    """One training image [3, height, width] in [-1, 1] and its six time ids."""
    if mode == "full":
        return to_tensor_range(render([scene], width, height))[0], (height, width, 0, 0, height, width)
    if mode == "crop":
        extra = 8 * int(rng.integers(1, 9))
        wide = bool(rng.integers(2))
        cw, ch = (width + extra, height) if wide else (width, height + extra)
        offset = 8 * int(rng.integers(0, extra // 8 + 1))
        top, left = (0, offset) if wide else (offset, 0)
        canvas = to_tensor_range(render([scene], cw, ch))[0]
        return canvas[:, top:top + height, left:left + width], (ch, cw, top, left, height, width)
    scale = (0.5, 0.75)[int(rng.integers(2))]
    sw, sh = round(width * scale), round(height * scale)
    small = torch.from_numpy(to_tensor_range(render([scene], sw, sh)))
    big = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)[0].numpy()
    return big, (sh, sw, 0, 0, height, width)


@torch.no_grad()
def encode_latents_xl(cfg, enc, triples, bpe, log):
    start = time.time()
    probs = np.array([cfg["micro_conditioning"][m] for m in MODES], dtype=np.float64)
    groups = []
    for i, (width, height, count) in enumerate(cfg["canvases"]):
        rng = np.random.default_rng(cfg["seed"] + 100 + i)
        scenes = [random_scene(rng, triples) for _ in range(count)]
        modes = rng.choice(len(MODES), size=count, p=probs / probs.sum())
        drawn = [draw(rng, sc, width, height, MODES[m]) for sc, m in zip(scenes, modes)]
        pixels = torch.from_numpy(np.stack([d[0] for d in drawn]))
        latents = torch.cat([enc(pixels[j:j + 256])[0] for j in range(0, count, 256)])
        captions = [[caption(sc, *form) for form in CAPTION_FORMS] for sc in scenes]
        groups.append({
            "latents": latents,
            "ids": torch.tensor([[bpe.input_ids(c) for c in cs] for cs in captions], dtype=torch.int16),
            "ids2": torch.tensor([[bpe.input_ids(c, pad_token="!") for c in cs] for cs in captions], dtype=torch.int16),
            "time_ids": torch.tensor([d[1] for d in drawn], dtype=torch.float32),
            "size": (width, height),
        })
        counts = {m: int((modes == j).sum()) for j, m in enumerate(MODES)}
        log(f"latents {width}x{height}: {count} scenes {counts}, {time.time() - start:.0f}s")
    return {"groups": groups, "seconds": time.time() - start}
