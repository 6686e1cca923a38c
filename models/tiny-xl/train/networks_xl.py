"""SDXL's conditioning in miniature: two CLIP-like text encoders of different widths (the second
with CLIPTextModelWithProjection's projection giving the pooled `text_embeds`), and a UNet that
adds an embedding of [text_embeds, sinusoidal(time_ids)] to its timestep embedding (diffusers'
UNet2DConditionModel with addition_embed_type "text_time")."""
import torch
import torch.nn as nn

import shared  # noqa: F401  (the SD tool's modules)
from networks import TextEncoder, UNet, eos_state, timestep_embedding

TIME_IDS = 6  # original (h, w), crop (top, left), target (h, w)


class TextEncoderWithProjection(nn.Module):
    """CLIPTextModelWithProjection: the final state at the end-of-text token, projected."""

    def __init__(self, vocab_size, dim, layers, mlp, proj_dim):
        super().__init__()
        self.encoder = TextEncoder(vocab_size, dim=dim, layers=layers, mlp=mlp)
        self.text_projection = nn.Linear(dim, proj_dim, bias=False)

    def forward(self, ids):
        """(text_embeds, last_hidden_state, hidden_states)."""
        states = self.encoder.hidden_states(ids)
        last = self.encoder.final_ln(states[-1])
        return self.text_projection(eos_state(last, ids)), last, states


class XlUNet(UNet):
    def __init__(self, chs, ctx_dim, attn, pooled_dim, time_embed_dim, tdim=64):
        super().__init__(chs=chs, ctx_dim=ctx_dim, tdim=tdim, attn=attn)
        self.time_embed_dim = time_embed_dim
        temb = 4 * tdim
        self.add_embedding = nn.Sequential(nn.Linear(pooled_dim + TIME_IDS * time_embed_dim, temb), nn.SiLU(),
                                           nn.Linear(temb, temb))

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        # diffusers: add_time_proj over the flattened ids, reshaped to [batch, 6 * dim], after the pooled embeds.
        time_embeds = timestep_embedding(time_ids.flatten(), self.time_embed_dim).reshape(time_ids.shape[0], -1)
        added = self.add_embedding(torch.cat([text_embeds, time_embeds], dim=-1))
        return super().forward(sample, timestep, encoder_hidden_states, added)


def build_xl_nets(cfg, vocab_size):
    return {
        "text_encoder": TextEncoder(vocab_size, dim=cfg["text_dim"], layers=cfg["text_layers"], mlp=cfg["text_mlp"]),
        "text_encoder_2": TextEncoderWithProjection(vocab_size, cfg["text2_dim"], cfg["text2_layers"], cfg["text_mlp"],
                                                    cfg["text2_proj_dim"]),
        "unet": XlUNet(tuple(cfg["unet_channels"]), cfg["text_dim"] + cfg["text2_dim"], tuple(cfg["unet_attention"]),
                       cfg["text2_proj_dim"], cfg["addition_time_embed_dim"]),
    }


def encode_prompt(nets, ids1, ids2):
    """diffusers' StableDiffusionXLPipeline.encode_prompt: the penultimate hidden states of both
    encoders concatenated on the feature axis, and the second encoder's pooled projection.
    Encoder 1 runs only up to its penultimate block: its last block and final LayerNorm feed
    nothing SDXL reads (they are exported for the format's `last_hidden_state` and `pooler_output`)."""
    te1 = nets["text_encoder"]
    h1 = te1.hidden_states(ids1, layers=len(te1.blocks) - 1)[-1]
    text_embeds, _, states2 = nets["text_encoder_2"](ids2)
    return torch.cat([h1, states2[-2]], dim=-1), text_embeds


class XlFamily:
    """The training loop's view of SDXL: with force_zeros_for_empty_prompt the pipeline sends
    zeros (hidden states and text_embeds) for an empty negative prompt, so a dropped caption
    trains the unconditional branch on exactly those zeros; time ids are kept."""

    def __init__(self, cfg, vocab_size):
        self.cfg, self.vocab_size = cfg, vocab_size

    def build(self):
        return build_xl_nets(self.cfg, self.vocab_size)

    def predict(self, nets, xt, t, group, idx, form, drop):
        ctx, pooled = encode_prompt(nets, group["ids"][idx, form].long(), group["ids2"][idx, form].long())
        keep = (~drop).to(ctx.dtype)
        return nets["unet"](xt, t, ctx * keep[:, None, None], pooled * keep[:, None], group["time_ids"][idx])
