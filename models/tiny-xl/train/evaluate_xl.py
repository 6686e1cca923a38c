"""Generates from captions through the SDXL wiring and scores the images with the SD tool's pixel
check, plus the wiring ablations: each feeds the UNet one conditioning input wrong, the way a
pipeline that drops or misroutes it would, and must cost accuracy."""
import time

import numpy as np
import torch

import shared  # noqa: F401  (the SD tool's modules)
from evaluate import STEPS, _save_grid, _score, _short, decode_images, eval_sets
from networks_xl import encode_prompt
from noise_schedule import ddim_sample
from scene import Scene, caption

# The grid: every third held-out caption (12, 4 per shape, held-out combinations are listed shape
# by shape) at the default guidance, then the same captions and noises under each ablation, a row each.
GRID_PICK = list(range(0, 36, 3))
GRID_COLUMNS = len(GRID_PICK)

# name -> what the broken pipeline does to the conditioning (hidden states [b, 77, d1 + d2],
# text_embeds, time_ids); `d1` is the first encoder's width.
ABLATIONS = {
    "zero_text_embeds": lambda ctx, pooled, ids, d1: (ctx, torch.zeros_like(pooled), ids),
    "zero_hidden_states_1": lambda ctx, pooled, ids, d1: (torch.cat([torch.zeros_like(ctx[..., :d1]), ctx[..., d1:]], -1), pooled, ids),
    "zero_hidden_states_2": lambda ctx, pooled, ids, d1: (torch.cat([ctx[..., :d1], torch.zeros_like(ctx[..., d1:])], -1), pooled, ids),
    # original size and crop top-left exchanged: (0, 0, h, w, h, w) instead of (h, w, 0, 0, h, w)
    "swapped_time_ids": lambda ctx, pooled, ids, d1: (ctx, pooled, ids[:, [2, 3, 0, 1, 4, 5]]),
    "zero_time_ids": lambda ctx, pooled, ids, d1: (ctx, pooled, torch.zeros_like(ids)),
}


def time_ids_for(width, height, n):
    """What SDXL's pipeline sends by default: original = target, crop (0, 0)."""
    return torch.tensor([[height, width, 0, 0, height, width]] * n, dtype=torch.float32)


@torch.no_grad()
def generate_xl(bpe, nets, dec, sf, prompts, width, height, guidance, seed, ablation=None):
    gen = torch.Generator().manual_seed(seed)
    n = len(prompts)
    ctx, pooled = encode_prompt(nets, torch.tensor([bpe.input_ids(p) for p in prompts]),
                                torch.tensor([bpe.input_ids(p, pad_token="!") for p in prompts]))
    ids = time_ids_for(width, height, n)
    # force_zeros_for_empty_prompt: the unconditional branch is zeros, with the same time ids.
    uncond = (torch.zeros_like(ctx), torch.zeros_like(pooled), ids)
    cond = (ctx, pooled, ids)
    if ablation:
        d1 = nets["text_encoder"].token_embedding.embedding_dim
        cond = ABLATIONS[ablation](*cond, d1)
        uncond = ABLATIONS[ablation](*uncond, d1)
    z = ddim_sample(nets["unet"], cond, uncond, (n, 4, height // 8, width // 8), STEPS, guidance, gen)
    return decode_images(dec, z, sf)


def evaluate_xl(cfg, held, train_triples, bpe, nets, dec, sf, log, grid_path=None):
    start = time.time()
    twice, seen = eval_sets(cfg, held, train_triples)
    prompts = [_short(t) for t in twice]
    default = cfg["default_guidance"]
    out, grids = {}, []

    def run(name, triples, caps, width=64, height=64, guidance=default, seed=1, ablation=None):
        images = generate_xl(bpe, nets, dec, sf, caps, width, height, guidance, seed, ablation)
        out[name] = _score(images, triples)
        log(f"  {name}: {out[name]}")
        return images

    for guidance in cfg["eval_guidances"]:
        images = run(f"held_out_cfg{guidance:g}", twice, prompts, guidance=guidance)
        if guidance == default:
            grids.append(images[GRID_PICK])
    run(f"seen_cfg{default:g}", seen + seen, [_short(t) for t in seen + seen])
    full = [caption(Scene(s, c, b, ("small", "large")[i % 2], ("top left", "bottom right", "center")[i % 3]))
            for i, (s, c, b) in enumerate(held)]
    run(f"held_out_full_caption_cfg{default:g}", held, full, seed=2)
    run(f"held_out_96x64_cfg{default:g}", held, [_short(t) for t in held], width=96, seed=3)
    for ablation in ABLATIONS:
        grids.append(run(f"ablation_{ablation}_cfg{default:g}", twice, prompts, ablation=ablation)[GRID_PICK])
    log(f"evaluation ({STEPS} DDIM steps) in {time.time() - start:.0f}s")
    if grid_path:
        _save_grid(grid_path, np.concatenate(grids), cols=GRID_COLUMNS)
    return out
