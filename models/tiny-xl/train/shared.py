"""Puts the SD tool's modules (models/tiny/train: scenes, tokenizer, networks, noise schedule,
pixel check, ONNX check) on the import path, so this family's tool reuses them instead of copies."""
import os
import sys

TINY_TRAIN = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tiny", "train"))
TINY_MODEL = os.path.dirname(TINY_TRAIN)
if TINY_TRAIN not in sys.path:
    sys.path.insert(0, TINY_TRAIN)
