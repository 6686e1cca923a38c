"""Procedural training scenes: one coloured shape on a plain background, and its caption.

The palette, shapes, sizes and positions come from palette.json, which the TypeScript pixel
check (test/support/tiny-model-check.ts) reads too, so both sides score the same colours.
"""
import json
import os
import re
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "palette.json"), encoding="utf-8") as f:
    SPEC = json.load(f)

COLORS = list(SPEC["colors"])
PALETTE = np.array([SPEC["colors"][c] for c in COLORS], dtype=np.float32)
SHAPES = SPEC["shapes"]
SIZES = SPEC["sizes"]
POSITIONS = SPEC["positions"]

# Shape extent as a fraction of the canvas' short side, and the gap kept to the border so
# the outer pixel ring (which the pixel check reads as background) stays background.
SIZE_FRACTION = {"small": 0.28, "large": 0.47}
MARGIN_FRACTION = {"small": 8 / 64, "large": 6 / 64}


@dataclass(frozen=True)
class Scene:
    shape: str
    color: str
    bg: str
    size: str
    pos: str
    # Small random offsets (pixels at 64 px) and scale so no two renders are identical.
    jx: float = 0.0
    jy: float = 0.0
    js: float = 1.0


def all_triples():
    """Every (shape, shape colour, background colour) with distinct colours, in a fixed order."""
    return [(s, c, b) for s in SHAPES for c in COLORS for b in COLORS if c != b]


def held_out_triples(rng, per_shape=12):
    """Combinations kept out of training entirely, to test generalisation to unseen captions.

    Every colour keeps appearing in training as a shape colour and as a background, only the
    particular pairing with that shape is never shown."""
    held = []
    for shape in SHAPES:
        pairs = [(c, b) for c in COLORS for b in COLORS if c != b]
        order = rng.permutation(len(pairs))[:per_shape]
        held += [(shape, *pairs[i]) for i in sorted(order)]
    return held


def random_scene(rng, triples):
    shape, color, bg = triples[rng.integers(len(triples))]
    return Scene(
        shape=shape,
        color=color,
        bg=bg,
        size=SIZES[rng.integers(len(SIZES))],
        pos=POSITIONS[rng.integers(len(POSITIONS))],
        jx=float(rng.uniform(-2, 2)),
        jy=float(rng.uniform(-2, 2)),
        js=float(rng.uniform(0.9, 1.1)),
    )


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def caption(scene, with_size=True, with_pos=True):
    """'a large yellow triangle at the top left on a black background' and its shorter forms."""
    desc = ([scene.size] if with_size else []) + [scene.color, scene.shape]
    text = f"{_article(desc[0])} {' '.join(desc)}"
    if with_pos:
        text += " in the center" if scene.pos == "center" else f" at the {scene.pos}"
    return f"{text} on {_article(scene.bg)} {scene.bg} background"


def caption_corpus():
    """Every caption form of every scene the generator can draw (held-out combinations included:
    the vocabulary must cover their words, which all occur in training captions anyway)."""
    out = []
    for shape, color, bg in all_triples():
        for size in SIZES:
            for pos in POSITIONS:
                sc = Scene(shape, color, bg, size, pos)
                out += [caption(sc, s, p) for s in (True, False) for p in (True, False)]
    return out


CAPTION_RE = re.compile(
    r"^an? (?:(small|large) )?(\w+) (circle|square|triangle)"
    r"(?: (?:in|at) the (center|top left|top right|bottom left|bottom right))?"
    r" on an? (\w+) background$"
)


def parse_caption(text):
    m = CAPTION_RE.match(text.strip().lower())
    if not m or m.group(2) not in COLORS or m.group(5) not in COLORS:
        raise ValueError(f"not a scene caption: {text!r}")
    size, color, shape, pos, bg = m.groups()
    return {"shape": shape, "color": color, "bg": bg, "size": size, "pos": pos}


def _geometry(scene, width, height):
    short = min(width, height)
    unit = short / 64
    side = SIZE_FRACTION[scene.size] * short * scene.js
    margin = MARGIN_FRACTION[scene.size] * short
    cx, cy = width / 2, height / 2
    if "left" in scene.pos:
        cx = margin + side / 2
    if "right" in scene.pos:
        cx = width - margin - side / 2
    if "top" in scene.pos:
        cy = margin + side / 2
    if "bottom" in scene.pos:
        cy = height - margin - side / 2
    return cx + scene.jx * unit, cy + scene.jy * unit, side


def render(scenes, width=64, height=64, supersample=4):
    """Anti-aliased renders, uint8 [N, height, width, 3]."""
    ss = supersample
    ys = (np.arange(height * ss, dtype=np.float32) + 0.5) / ss
    xs = (np.arange(width * ss, dtype=np.float32) + 0.5) / ss
    y, x = ys[:, None], xs[None, :]
    out = np.empty((len(scenes), height, width, 3), dtype=np.uint8)
    for i, sc in enumerate(scenes):
        cx, cy, side = _geometry(sc, width, height)
        half = side / 2
        if sc.shape == "circle":
            mask = (x - cx) ** 2 + (y - cy) ** 2 <= half * half
        elif sc.shape == "square":
            mask = (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
        elif sc.shape == "triangle":
            top = cy - half
            mask = (y >= top) & (y <= cy + half) & (np.abs(x - cx) <= (y - top) / 2)
        else:
            raise ValueError(sc.shape)
        cover = mask.reshape(height, ss, width, ss).mean(axis=(1, 3))[..., None]
        fg = PALETTE[COLORS.index(sc.color)]
        bg = PALETTE[COLORS.index(sc.bg)]
        out[i] = np.round(bg * (1 - cover) + fg * cover).astype(np.uint8)
    return out


def to_tensor_range(images):
    """uint8 NHWC -> float32 NCHW in [-1, 1], the VAE's pixel range."""
    return (images.astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)
