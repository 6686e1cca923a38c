"""Stable Diffusion's three networks in miniature: KL-VAE (f=8), CLIP-like text encoder, UNet.

Everything is written so torch.onnx.export keeps batch, height and width dynamic: attention is
plain matmul/softmax (PyTorch 1.13 has no fused kernel to export), and reshapes take the batch
and spatial sizes from the tensor at run time, with only channel counts as constants.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def norm(ch):
    return nn.GroupNorm(min(math.gcd(ch, 32), ch // 4), ch, eps=1e-6)


def zero(module):
    """Residual branches start as identity, as in SD's UNet, so a deep stack trains from step one."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim=None, zero_out=False):
        super().__init__()
        self.n1, self.c1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb_dim, cout) if temb_dim else None
        self.n2, self.c2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        if zero_out:
            zero(self.c2)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.temb is not None:
            # temb may have batch 1 against a sample batch of 2 (diffusers sends one timestep).
            h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def attention(q, k, v, heads, dim):
    """Multi-head scaled dot-product attention over [B, N, dim] queries and [B, M, dim] keys."""
    head = dim // heads
    q = q.reshape(q.shape[0], -1, heads, head).transpose(1, 2)
    k = k.reshape(k.shape[0], -1, heads, head).transpose(1, 2)
    v = v.reshape(v.shape[0], -1, heads, head).transpose(1, 2)
    w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (head ** -0.5), dim=-1)
    out = torch.matmul(w, v).transpose(1, 2)
    return out.reshape(out.shape[0], -1, dim)


# ---------------------------------------------------------------------------------------------
# KL-VAE


# Plain convolutions without normalisation: on a CPU, GroupNorm and SiLU over 64x64 maps cost as
# much as the convolutions, and scenes of flat colours need no more than this to come back sharp.
# Upsampling is nearest + conv (ConvTranspose has no fast CPU kernel in PyTorch 1.13).


def _up(cin, cout):
    return [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1), nn.SiLU()]


class VaeEncoder(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.SiLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(64, 128, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(128, 128, 3, padding=1), nn.SiLU(),
            nn.Conv2d(128, 2 * latent, 3, padding=1),
        )
        # Start with a narrow posterior so early reconstructions are not drowned in sampling noise.
        nn.init.constant_(self.net[-1].bias[latent:], -6.0)

    def forward(self, x):
        """Returns (mean, logvar) of the latent posterior."""
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class VaeDecoder(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(latent, 128, 3, padding=1)
        self.res1 = nn.Conv2d(128, 128, 3, padding=1)
        self.res2 = nn.Conv2d(128, 128, 3, padding=1)
        self.up = nn.Sequential(
            *_up(128, 64), nn.Conv2d(64, 64, 3, padding=1), nn.SiLU(),
            *_up(64, 32), nn.Conv2d(32, 32, 3, padding=1), nn.SiLU(),
            *_up(32, 32), nn.Conv2d(32, 3, 3, padding=1),
        )

    def forward(self, z):
        h = F.silu(self.conv_in(z))
        h = F.silu(h + self.res2(F.silu(self.res1(h))))
        return self.up(h)


# ---------------------------------------------------------------------------------------------
# Text encoder (CLIP-like: causal pre-LN transformer over 77 positions)


class TextBlock(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.ln1, self.qkv, self.proj = nn.LayerNorm(dim), nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp * dim), nn.GELU(), nn.Linear(mlp * dim, dim))

    def forward(self, x, mask):
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        head = self.dim // self.heads
        q = q.reshape(q.shape[0], -1, self.heads, head).transpose(1, 2)
        k = k.reshape(k.shape[0], -1, self.heads, head).transpose(1, 2)
        v = v.reshape(v.shape[0], -1, self.heads, head).transpose(1, 2)
        w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (head ** -0.5) + mask, dim=-1)
        a = torch.matmul(w, v).transpose(1, 2)
        x = x + self.proj(a.reshape(a.shape[0], -1, self.dim))
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, dim=128, layers=2, heads=4, length=77, mlp=4):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.randn(length, dim) * 0.01)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.blocks = nn.ModuleList(TextBlock(dim, heads, mlp) for _ in range(layers))
        self.final_ln = nn.LayerNorm(dim)
        # CLIP's causal mask: a token sees only what precedes it, so padding never leaks backwards.
        self.register_buffer("mask", torch.full((length, length), -1e9).triu(1), persistent=False)

    def forward(self, ids):
        return self.final_ln(self.hidden_states(ids)[-1])

    def hidden_states(self, ids, layers=None):
        """CLIP's `hidden_states`: the embeddings, then the output of each block (before the final
        LayerNorm). `layers` stops after that many blocks (SDXL reads the penultimate state only)."""
        x = self.token_embedding(ids) + self.position_embedding
        states = [x]
        for b in self.blocks[:layers]:
            x = b(x, self.mask)
            states.append(x)
        return states


def eos_state(hidden, ids):
    """CLIP's pooled output: the state at the end-of-text token, found as the highest id (EOS is
    the last vocabulary entry; with either padding, EOS or SDXL's "!", the first maximum is the EOS)."""
    at = ids.argmax(dim=-1)[:, None, None].expand(-1, 1, hidden.shape[2])
    return torch.gather(hidden, 1, at).squeeze(1)


# ---------------------------------------------------------------------------------------------
# UNet


def timestep_embedding(t, dim):
    """Sinusoidal embedding with cos first (diffusers' flip_sin_to_cos=True, shift 0)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / half))
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TransformerBlock(nn.Module):
    """SD's SpatialTransformer: self-attention, cross-attention to the text, feed-forward."""

    def __init__(self, ch, ctx_dim, heads=4):
        super().__init__()
        self.ch, self.heads = ch, heads
        self.norm = norm(ch)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.ln1, self.qkv = nn.LayerNorm(ch), nn.Linear(ch, 3 * ch, bias=False)
        self.out1 = nn.Linear(ch, ch)
        self.ln2, self.q = nn.LayerNorm(ch), nn.Linear(ch, ch, bias=False)
        self.kv = nn.Linear(ctx_dim, 2 * ch, bias=False)
        self.out2 = nn.Linear(ch, ch)
        self.ln3 = nn.LayerNorm(ch)
        self.ff = nn.Sequential(nn.Linear(ch, 4 * ch), nn.GELU(), nn.Linear(4 * ch, ch))
        self.proj_out = zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x, ctx):
        b, _, h, w = x.shape
        r = x
        x = self.proj_in(self.norm(x)).reshape(b, self.ch, -1).transpose(1, 2)
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        x = x + self.out1(attention(q, k, v, self.heads, self.ch))
        k, v = self.kv(ctx).chunk(2, dim=-1)
        x = x + self.out2(attention(self.q(self.ln2(x)), k, v, self.heads, self.ch))
        x = x + self.ff(self.ln3(x))
        x = x.transpose(1, 2).reshape(b, self.ch, h, w)
        return r + self.proj_out(x)


class UNet(nn.Module):
    """Three levels (H, H/2, H/4), so latent height and width must be multiples of 4."""

    def __init__(self, chs=(64, 128, 192), ctx_dim=128, tdim=64, heads=4, attn=(True, True, True)):
        super().__init__()
        self.tdim = tdim
        temb = 4 * tdim
        self.time_mlp = nn.Sequential(nn.Linear(tdim, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(4, chs[0], 3, padding=1)

        self.down_res, self.down_attn, self.down_sample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        skips, cin = [chs[0]], chs[0]
        for i, ch in enumerate(chs):
            self.down_res.append(ResBlock(cin, ch, temb, zero_out=True))
            self.down_attn.append(TransformerBlock(ch, ctx_dim, heads) if attn[i] else nn.Identity())
            skips.append(ch)
            cin = ch
            if i < len(chs) - 1:
                self.down_sample.append(Downsample(ch))
                skips.append(ch)

        self.mid1 = ResBlock(cin, cin, temb, zero_out=True)
        self.mid_attn = TransformerBlock(cin, ctx_dim, heads)
        self.mid2 = ResBlock(cin, cin, temb, zero_out=True)

        self.up_res, self.up_attn, self.up_sample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(chs))):
            for _ in range(2):
                self.up_res.append(ResBlock(cin + skips.pop(), ch, temb, zero_out=True))
                self.up_attn.append(TransformerBlock(ch, ctx_dim, heads) if attn[i] else nn.Identity())
                cin = ch
            if i > 0:
                self.up_sample.append(Upsample(ch))
        self.norm_out = norm(cin)
        self.conv_out = zero(nn.Conv2d(cin, 4, 3, padding=1))
        self.levels = len(chs)

    def forward(self, sample, timestep, ctx, added_emb=None):
        """`added_emb` [batch, 4 * tdim] is added to the timestep embedding (SDXL's text_time)."""
        temb = self.time_mlp(timestep_embedding(timestep, self.tdim))
        if added_emb is not None:
            temb = temb + added_emb
        h = self.conv_in(sample)
        skips = [h]
        for i in range(self.levels):
            h = self._attn(self.down_attn[i], self.down_res[i](h, temb), ctx)
            skips.append(h)
            if i < self.levels - 1:
                h = self.down_sample[i](h)
                skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb), ctx), temb)
        k = 0
        for j in range(self.levels):
            for _ in range(2):
                h = self.up_res[k](torch.cat([h, skips.pop()], dim=1), temb)
                h = self._attn(self.up_attn[k], h, ctx)
                k += 1
            if j < self.levels - 1:
                h = self.up_sample[j](h)
        return self.conv_out(F.silu(self.norm_out(h)))

    @staticmethod
    def _attn(block, h, ctx):
        return h if isinstance(block, nn.Identity) else block(h, ctx)


def count_params(module):
    return sum(p.numel() for p in module.parameters())
