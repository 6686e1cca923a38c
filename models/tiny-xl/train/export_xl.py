"""ONNX export in the names and layout of Hugging Face Optimum's SDXL export, the JSON files around
it, and a check of onnxruntime-node's outputs against PyTorch's (the SD tool's checker)."""
import os

import numpy as np
import torch
import torch.nn as nn

import shared  # noqa: F401  (the SD tool's modules)
from export_onnx import TextEncoderOnnx, VaeEncoderOnnx, _check_with_onnxruntime, _export, _write_json, vae_config
from scene import Scene, render, to_tensor_range
from vae_reuse import SDXL_SCALING_FACTOR

BATCH = {0: "batch"}
IMAGE = {0: "batch", 2: "height", 3: "width"}


class TextEncoderWithProjectionOnnx(nn.Module):
    """CLIPTextModelWithProjection with output_hidden_states: text_embeds, last_hidden_state, hidden_states.0..L."""

    def __init__(self, te2):
        super().__init__()
        self.te2 = te2

    def forward(self, input_ids):
        text_embeds, last, states = self.te2(input_ids.to(torch.int64))
        return (text_embeds, last, *states)


def _hidden_names(layers):
    return [f"hidden_states.{i}" for i in range(layers + 1)]


def _run(module, names, *args):
    return dict(zip(names, [t.numpy() for t in module(*args)]))


@torch.no_grad()
def export_xl(out, cfg, bpe, nets, enc, dec, log):
    te1 = TextEncoderOnnx(nets["text_encoder"], with_hidden_states=True).eval()
    te2 = TextEncoderWithProjectionOnnx(nets["text_encoder_2"]).eval()
    unet, enc_onnx = nets["unet"].eval(), VaeEncoderOnnx(enc).eval()
    names1 = ["last_hidden_state", "pooler_output"] + _hidden_names(cfg["text_layers"])
    names2 = ["text_embeds", "last_hidden_state"] + _hidden_names(cfg["text2_layers"])
    prompts = ["a red circle on a blue background", ""]
    ids1 = torch.tensor([bpe.input_ids(p) for p in prompts], dtype=torch.int32)
    ids2 = torch.tensor([bpe.input_ids(p, pad_token="!") for p in prompts], dtype=torch.int32)
    _export(te1, (ids1,), os.path.join(out, "text_encoder", "model.onnx"), ["input_ids"], names1,
            {n: BATCH for n in ["input_ids"] + names1})
    _export(te2, (ids2,), os.path.join(out, "text_encoder_2", "model.onnx"), ["input_ids"], names2,
            {n: BATCH for n in ["input_ids"] + names2})

    g = torch.Generator().manual_seed(0)
    ctx = torch.cat([te1(ids1)[2 + cfg["text_layers"] - 1], te2(ids2)[2 + cfg["text2_layers"] - 1]], dim=-1)
    pooled = te2(ids2)[0]
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]] * 2)
    sample = torch.randn(2, 4, 8, 8, generator=g)
    unet_inputs = ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"]
    _export(unet, (sample, torch.tensor([500]), ctx, pooled, time_ids), os.path.join(out, "unet", "model.onnx"),
            unet_inputs, ["out_sample"],
            {"sample": IMAGE, "timestep": {0: "steps"}, "encoder_hidden_states": BATCH, "text_embeds": BATCH,
             "time_ids": BATCH, "out_sample": IMAGE})
    _export(dec, (sample[:1],), os.path.join(out, "vae_decoder", "model.onnx"), ["latent_sample"], ["sample"],
            {"latent_sample": IMAGE, "sample": IMAGE})
    pixels = torch.from_numpy(to_tensor_range(render([Scene("triangle", "red", "blue", "large", "center")])))
    _export(enc_onnx, (pixels,), os.path.join(out, "vae_encoder", "model.onnx"), ["sample"], ["latent_sample"],
            {"sample": IMAGE, "latent_sample": IMAGE})
    _write_configs(out, cfg, bpe)

    wide = torch.randn(2, 4, 8, 12, generator=g)
    wide_ids = torch.tensor([[64.0, 120.0, 0.0, 24.0, 64.0, 96.0], [48.0, 72.0, 0.0, 0.0, 64.0, 96.0]])
    wide_px = torch.from_numpy(to_tensor_range(render([Scene("circle", "cyan", "black", "small", "top right")], 96, 64)))
    np_ids = [ids1.numpy(), ids1[:1].numpy(), ids2.numpy(), ids2[:1].numpy()]

    def unet_case(x, t, ids):
        feeds = {"sample": x.numpy(), "timestep": np.array(t, dtype=np.int64), "encoder_hidden_states": ctx.numpy(),
                 "text_embeds": pooled.numpy(), "time_ids": ids.numpy()}
        return ("unet", feeds, {"out_sample": unet(x, torch.tensor(t), ctx, pooled, ids).numpy()})

    cases = [
        ("text_encoder", {"input_ids": np_ids[0]}, _run(te1, names1, ids1)),
        ("text_encoder", {"input_ids": np_ids[1]}, _run(te1, names1, ids1[:1])),
        ("text_encoder_2", {"input_ids": np_ids[2]}, _run(te2, names2, ids2)),
        ("text_encoder_2", {"input_ids": np_ids[3]}, _run(te2, names2, ids2[:1])),
        # One timestep against a batch of two, as the ONNX pipelines send it.
        unet_case(sample, [500], time_ids),
        unet_case(wide, [999, 1], wide_ids),
        ("vae_decoder", {"latent_sample": sample.numpy()}, {"sample": dec(sample).numpy()}),
        ("vae_decoder", {"latent_sample": wide[:1].numpy()}, {"sample": dec(wide[:1]).numpy()}),
        ("vae_encoder", {"sample": pixels.numpy()}, {"latent_sample": enc_onnx(pixels).numpy()}),
        ("vae_encoder", {"sample": wide_px.numpy()}, {"latent_sample": enc_onnx(wide_px).numpy()}),
    ]
    return _check_with_onnxruntime(out, cases, log)


def _write_configs(out, cfg, bpe):
    bpe.write(os.path.join(out, "tokenizer"))
    bpe.write(os.path.join(out, "tokenizer_2"), pad_token="!")  # as SDXL's second tokenizer
    onnx_model = ["onnxruntime", "OnnxRuntimeModel"]
    _write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "StableDiffusionXLPipeline",
        "_diffusers_version": "0.19.0",
        "feature_extractor": [None, None],
        "force_zeros_for_empty_prompt": True,
        "image_encoder": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": onnx_model,
        "text_encoder_2": onnx_model,
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": onnx_model,
        "vae_decoder": onnx_model,
        "vae_encoder": onnx_model,
        # The product's per-model defaults (src/models.ts), as models/tiny's: a 64x64 budget snapped
        # to 32 px (the UNet halves the latent twice); the guidance the evaluation picked (train/README.md).
        "imagine": {"base_size": 64, "size_multiple": 32, "default_steps": 20,
                    "default_sampler": "euler_a", "default_guidance": cfg["default_guidance"]},
    })
    # SDXL base's scheduler settings; the noise schedule is the one the model was trained on.
    _write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
        "_class_name": "EulerDiscreteScheduler",
        "_diffusers_version": "0.19.0",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "interpolation_type": "linear",
        "num_train_timesteps": 1000,
        "prediction_type": "epsilon",
        "sample_max_value": 1.0,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "trained_betas": None,
        "use_karras_sigmas": False,
    })
    # As SDXL base's VAE says: run it in float32 even when the rest runs in float16.
    vae = {**vae_config(SDXL_SCALING_FACTOR), "force_upcast": True}
    _write_json(os.path.join(out, "vae_decoder", "config.json"), vae)
    _write_json(os.path.join(out, "vae_encoder", "config.json"), vae)
    _write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel",
        "in_channels": 4,
        "out_channels": 4,
        "sample_size": 8,
        "block_out_channels": cfg["unet_channels"],
        "cross_attention_dim": cfg["text_dim"] + cfg["text2_dim"],
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": cfg["addition_time_embed_dim"],
        "projection_class_embeddings_input_dim": cfg["text2_proj_dim"] + 6 * cfg["addition_time_embed_dim"],
        "note": "latent height and width must be multiples of 4 (images: multiples of 32 pixels)",
    })
    common = {"max_position_embeddings": 77, "vocab_size": len(bpe.encoder),
              "bos_token_id": bpe.bos_id, "eos_token_id": bpe.eos_id, "hidden_act": "gelu"}
    _write_json(os.path.join(out, "text_encoder", "config.json"), {
        "architectures": ["CLIPTextModel"], "hidden_size": cfg["text_dim"], "num_hidden_layers": cfg["text_layers"],
        **common, "intermediate_size": cfg["text_mlp"] * cfg["text_dim"], "pad_token_id": bpe.eos_id})
    _write_json(os.path.join(out, "text_encoder_2", "config.json"), {
        "architectures": ["CLIPTextModelWithProjection"], "hidden_size": cfg["text2_dim"],
        "num_hidden_layers": cfg["text2_layers"], "projection_dim": cfg["text2_proj_dim"],
        **common, "intermediate_size": cfg["text_mlp"] * cfg["text2_dim"], "pad_token_id": bpe.encoder["!"]})
