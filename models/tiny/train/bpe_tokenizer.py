"""The model's own CLIP-format byte-level BPE vocabulary, and CLIP's BPE encoder.

Files are written exactly as Hugging Face stores CLIP's tokenizer, so the same ClipTokenizer that
reads Stable Diffusion's vocabulary reads this one: vocab.json has the 256 byte symbols, the same
with '</w>', one entry per merge in merge order, then <|startoftext|> and <|endoftext|>.
"""
import json
import os
import re
from collections import Counter

# CLIP's split pattern restricted to ASCII: training captions are lowercase ASCII, and Python's
# `re` has no \p{L}. Other text still works, it only splits differently around non-ASCII letters.
PATTERN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
CONTEXT_LENGTH = 77


def bytes_to_unicode():
    """CLIP's reversible byte -> printable character table (same order as its vocabulary)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_CHARS = bytes_to_unicode()


def _byte_chars(text):
    return "".join(BYTE_CHARS[b] for b in text.encode("utf-8"))


def _symbols(chars):
    """A pre-token as BPE starts it: one symbol per byte, the last marked as word end."""
    return tuple(chars[:-1]) + (chars[-1] + "</w>",)


def _merge(symbols, pair):
    """Every left-to-right occurrence of `pair` in `symbols` joined into one symbol."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn_merges(word_counts):
    """Plain BPE training, run until every word is a single symbol.

    Ties are broken by the pair itself so the result does not depend on dict order."""
    words = {w: _symbols(_byte_chars(w)) for w in sorted(word_counts)}
    merges = []
    while True:
        pairs = Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += word_counts[w]
        if not pairs:
            return merges
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w, syms in words.items():
            words[w] = _merge(syms, best)


class ClipBpe:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        base = list(BYTE_CHARS.values())
        vocab = base + [c + "</w>" for c in base] + ["".join(m) for m in self.merges] + [BOS, EOS]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        if len(self.encoder) != len(vocab):
            raise ValueError("a merge repeats a vocabulary entry")
        self.bos_id, self.eos_id = self.encoder[BOS], self.encoder[EOS]

    @classmethod
    def from_files(cls, merges_path):
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")[1:]
        return cls([tuple(line.split(" ")) for line in lines if line])

    def bpe(self, token):
        word = _symbols(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            word = _merge(word, best)
        return word

    def encode(self, text):
        text = " ".join(text.lower().split())
        ids = []
        for token in PATTERN.findall(text):
            if token in (BOS, EOS):
                ids.append(self.encoder[token])
                continue
            ids += [self.encoder[s] for s in self.bpe(_byte_chars(token))]
        return ids

    def input_ids(self, text, pad_token=EOS):
        """Stable Diffusion's layout: BOS, at most 75 ids, EOS, padding to 77 (SD 1.x and SDXL's
        first tokenizer pad with EOS, SDXL's second with "!")."""
        ids = [self.bos_id] + self.encode(text)[: CONTEXT_LENGTH - 2] + [self.eos_id]
        return ids + [self.encoder[pad_token]] * (CONTEXT_LENGTH - len(ids))

    def write(self, folder, pad_token=EOS):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(self.encoder, f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges))

        def added(content):
            return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True,
                    "rstrip": False, "single_word": False}

        config = {
            "add_prefix_space": False,
            "bos_token": added(BOS),
            "do_lower_case": True,
            "eos_token": added(EOS),
            "errors": "replace",
            "model_max_length": CONTEXT_LENGTH,
            "pad_token": pad_token,
            "special_tokens_map_file": "./special_tokens_map.json",
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": added(EOS),
        }
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        special = {k: ({kk: vv for kk, vv in v.items() if kk != "__type"} if isinstance(v, dict) else v)
                   for k, v in config.items() if k in ("bos_token", "eos_token", "pad_token", "unk_token")}
        with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as f:
            json.dump(special, f, indent=2)
            f.write("\n")


def build_caption_bpe(captions):
    """Merges learned on the caption words, so every caption word becomes one token."""
    counts = Counter(w for c in captions for w in PATTERN.findall(" ".join(c.lower().split())))
    bpe = ClipBpe(learn_merges(counts))
    for word in counts:
        if len(bpe.bpe(_byte_chars(word))) != 1:
            raise AssertionError(f"caption word {word!r} does not encode to one token")
    return bpe
