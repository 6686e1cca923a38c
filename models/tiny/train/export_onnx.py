"""Stage 4: ONNX export in the layout, names and dtypes of diffusers' Stable Diffusion ONNX export,
plus the JSON files around it, and a check of onnxruntime's outputs against PyTorch's."""
import json
import os
import subprocess
import tempfile

import numpy as np
import torch
import torch.nn as nn

from networks import eos_state
from scene import Scene, render, to_tensor_range

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


class TextEncoderOnnx(nn.Module):
    """CLIPTextModel: last_hidden_state, pooler_output, and with `with_hidden_states` (SDXL's
    exports) hidden_states.0..L after them."""

    def __init__(self, te, with_hidden_states=False):
        super().__init__()
        self.te, self.with_hidden_states = te, with_hidden_states

    def forward(self, input_ids):
        ids = input_ids.to(torch.int64)
        states = self.te.hidden_states(ids)
        hidden = self.te.final_ln(states[-1])
        return (hidden, eos_state(hidden, ids), *(states if self.with_hidden_states else []))


class UNetOnnx(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states)


class VaeEncoderOnnx(nn.Module):
    """Exports the posterior mean, so img2img encodes deterministically."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, sample):
        return self.enc(sample)[0]


def vae_config(scaling_factor):
    """The VAE's config.json, as diffusers' AutoencoderKL writes it, for both demo models."""
    return {
        "_class_name": "AutoencoderKL",
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": [32, 32, 64, 128],
        "layers_per_block": 1,
        "sample_size": 64,
        "scaling_factor": scaling_factor,
    }


def _export(module, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module.eval(), args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)


def _write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def _check_with_onnxruntime(out, cases, log):
    """Runs every case through onnxruntime-node (the runtime the product uses) and returns the
    largest absolute difference from PyTorch per model."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = []
        for i, (model, inputs, _) in enumerate(cases):
            entry = {"model": os.path.join(out, model, "model.onnx"), "inputs": {}, "id": i}
            for name, arr in inputs.items():
                file = os.path.join(tmp, f"{i}-{name}.bin")
                np.ascontiguousarray(arr).tofile(file)
                entry["inputs"][name] = {"file": file, "dtype": str(arr.dtype), "shape": list(arr.shape)}
            manifest.append(entry)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        subprocess.run(["node", os.path.join(HERE, "check_onnx.mjs"), tmp], check=True)
        with open(os.path.join(tmp, "results.json")) as f:
            results = json.load(f)
        diffs = {}
        for (model, _, expected), result in zip(cases, results):
            for name, ref in expected.items():
                got = np.fromfile(result["outputs"][name]["file"], dtype=np.float32)
                got = got.reshape(result["outputs"][name]["shape"])
                if got.shape != ref.shape:
                    raise AssertionError(f"{model} {name}: onnxruntime shape {got.shape}, torch {ref.shape}")
                diffs[model] = max(diffs.get(model, 0.0), float(np.abs(got - ref).max()))
    for model, d in diffs.items():
        log(f"onnxruntime vs PyTorch, {model}: max abs diff {d:.2e}")
    return diffs


@torch.no_grad()
def export_all(out, cfg, bpe, text_encoder, unet, enc, dec, sf, log):
    dim = cfg["text_dim"]
    ids = torch.tensor([bpe.input_ids("a red circle on a blue background"), bpe.input_ids("")], dtype=torch.int32)
    _export(TextEncoderOnnx(text_encoder), (ids,), os.path.join(out, "text_encoder", "model.onnx"),
            ["input_ids"], ["last_hidden_state", "pooler_output"],
            {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
    g = torch.Generator().manual_seed(0)
    ctx = TextEncoderOnnx(text_encoder)(ids)[0]
    sample = torch.randn(2, 4, 8, 8, generator=g)
    _export(UNetOnnx(unet), (sample, torch.tensor([500]), ctx), os.path.join(out, "unet", "model.onnx"),
            ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
            {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
             "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    _export(dec, (sample[:1],), os.path.join(out, "vae_decoder", "model.onnx"), ["latent_sample"], ["sample"],
            {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    pixels = torch.from_numpy(to_tensor_range(render([Scene("triangle", "red", "blue", "large", "center")])))
    _export(VaeEncoderOnnx(enc), (pixels,), os.path.join(out, "vae_encoder", "model.onnx"), ["sample"],
            ["latent_sample"],
            {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}})
    _write_configs(out, cfg, bpe, sf)

    te_onnx, unet_onnx, enc_onnx = TextEncoderOnnx(text_encoder), UNetOnnx(unet), VaeEncoderOnnx(enc)
    wide = torch.randn(2, 4, 8, 12, generator=g)
    wide_px = torch.from_numpy(to_tensor_range(render([Scene("circle", "cyan", "black", "small", "top right")], 96, 64)))
    ids1 = ids[:1]
    cases = [
        ("text_encoder", {"input_ids": ids.numpy()},
         dict(zip(["last_hidden_state", "pooler_output"], [t.numpy() for t in te_onnx(ids)]))),
        ("text_encoder", {"input_ids": ids1.numpy()},
         dict(zip(["last_hidden_state", "pooler_output"], [t.numpy() for t in te_onnx(ids1)]))),
        # One timestep against a batch of two, as diffusers' ONNX pipeline sends it.
        ("unet", {"sample": sample.numpy(), "timestep": np.array([500], dtype=np.int64),
                  "encoder_hidden_states": ctx.numpy()},
         {"out_sample": unet_onnx(sample, torch.tensor([500]), ctx).numpy()}),
        ("unet", {"sample": wide.numpy(), "timestep": np.array([999, 1], dtype=np.int64),
                  "encoder_hidden_states": ctx.numpy()},
         {"out_sample": unet_onnx(wide, torch.tensor([999, 1]), ctx).numpy()}),
        ("vae_decoder", {"latent_sample": sample.numpy()}, {"sample": dec(sample).numpy()}),
        ("vae_decoder", {"latent_sample": wide[:1].numpy()}, {"sample": dec(wide[:1]).numpy()}),
        ("vae_encoder", {"sample": pixels.numpy()}, {"latent_sample": enc_onnx(pixels).numpy()}),
        ("vae_encoder", {"sample": wide_px.numpy()}, {"latent_sample": enc_onnx(wide_px).numpy()}),
    ]
    return _check_with_onnxruntime(out, cases, log)


def _write_configs(out, cfg, bpe, sf):
    _write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "OnnxStableDiffusionPipeline",
        "_diffusers_version": "0.6.0",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["onnxruntime", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["onnxruntime", "OnnxRuntimeModel"],
        "vae_decoder": ["onnxruntime", "OnnxRuntimeModel"],
        "vae_encoder": ["onnxruntime", "OnnxRuntimeModel"],
        # The product's per-model defaults (src/models.ts): a 64x64 budget snapped to 32 px (the
        # UNet halves the latent twice). Guidance 2: this model follows captions best at 1.5-2;
        # from 4 up the guided difference overshoots and bends the shapes (see train/README.md).
        "imagine": {"base_size": 64, "size_multiple": 32, "default_steps": 20,
                    "default_sampler": "euler_a", "default_guidance": 2},
    })
    # Stable Diffusion 1.5's scheduler settings: the model was trained on exactly this schedule.
    _write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
        "_class_name": "PNDMScheduler",
        "_diffusers_version": "0.6.0",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "num_train_timesteps": 1000,
        "prediction_type": "epsilon",
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "trained_betas": None,
    })
    vae = vae_config(round(sf, 5))
    _write_json(os.path.join(out, "vae_decoder", "config.json"), vae)
    _write_json(os.path.join(out, "vae_encoder", "config.json"), vae)
    _write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel",
        "in_channels": 4,
        "out_channels": 4,
        "sample_size": 8,
        "block_out_channels": cfg["unet_channels"],
        "cross_attention_dim": cfg["text_dim"],
        "note": "latent height and width must be multiples of 4 (images: multiples of 32 pixels)",
    })
    _write_json(os.path.join(out, "text_encoder", "config.json"), {
        "architectures": ["CLIPTextModel"],
        "hidden_size": cfg["text_dim"],
        "num_hidden_layers": cfg["text_layers"],
        "max_position_embeddings": 77,
        "vocab_size": len(bpe.encoder),
        "bos_token_id": bpe.bos_id,
        "eos_token_id": bpe.eos_id,
        "pad_token_id": bpe.eos_id,
    })
