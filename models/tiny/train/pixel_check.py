"""Scores a generated image against its caption by pixel statistics.

The same rules as test/support/tiny-model-check.ts, so the accuracy the tool reports is the
accuracy the project's tests measure:
- every pixel takes the name of the nearest palette colour (RGB distance);
- background = most common name on the 2-pixel border ring;
- the shape = largest 4-connected region of non-background pixels; its colour = most common
  name inside it;
- its kind from how much of its bounding box it fills (circle ~0.785, square 1, triangle 0.5).
"""
from collections import deque

import numpy as np

from scene import COLORS, PALETTE, SPEC

BORDER = 2
MIN_SHAPE_PIXELS = 12


def nearest_names(rgb):
    d = ((rgb[:, :, None, :].astype(np.float32) - PALETTE[None, None]) ** 2).sum(-1)
    return d.argmin(-1)


def _largest_component(mask):
    h, w = mask.shape
    seen = np.zeros_like(mask)
    best = []
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or seen[y0, x0]:
                continue
            seen[y0, x0] = True
            queue, comp = deque([(y0, x0)]), []
            while queue:
                y, x = queue.popleft()
                comp.append((y, x))
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
            if len(comp) > len(best):
                best = comp
    out = np.zeros_like(mask)
    for y, x in best:
        out[y, x] = True
    return out


def classify_fill(fill):
    th = SPEC["shapeThresholds"]
    if fill < th["triangleBelow"]:
        return "triangle"
    if fill > th["squareAbove"]:
        return "square"
    return "circle"


def check_image(rgb, expected):
    """rgb: uint8 [H, W, 3]; expected: dict with shape, color, bg (as parse_caption returns)."""
    names = nearest_names(rgb)
    ring = np.ones(names.shape, dtype=bool)
    ring[BORDER:-BORDER, BORDER:-BORDER] = False
    ring = names[ring]
    bg = int(np.bincount(ring, minlength=len(COLORS)).argmax())
    comp = _largest_component(names != bg)
    found = {"bg": COLORS[bg], "color": None, "shape": None, "fill": None}
    if comp.sum() >= MIN_SHAPE_PIXELS:
        found["color"] = COLORS[int(np.bincount(names[comp], minlength=len(COLORS)).argmax())]
        ys, xs = np.nonzero(comp)
        fill = comp.sum() / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
        found["fill"] = float(fill)
        found["shape"] = classify_fill(fill)
    return {
        "bg_ok": found["bg"] == expected["bg"],
        "color_ok": found["color"] == expected["color"],
        "shape_ok": found["shape"] == expected["shape"],
        "found": found,
    }
