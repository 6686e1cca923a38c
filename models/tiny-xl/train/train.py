"""Trains the SDXL-format demo model and writes it in Optimum's ONNX layout of SDXL.

    /usr/bin/python3 models/tiny-xl/train/train.py [--out models/tiny-xl] [--stop-after unet|eval]

Reuses the SD tool (models/tiny/train) for scenes, captions, tokenizer, networks, noise schedule,
pixel check and the onnxruntime check, and models/tiny's shipped VAE (read from its ONNX files).
Stages are cached in models/tiny-xl/train/cache/ under the settings that made them: latents,
text encoders + UNet, then evaluation and the ONNX export with an onnxruntime check.
"""
import json
import os
import sys
import time

# Worker threads that spin while they wait for each other burn the CPU they wait for (see the SD tool).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import shared  # noqa: E402
from bpe_tokenizer import ClipBpe, build_caption_bpe  # noqa: E402
from scene import all_triples, caption_corpus, held_out_triples, random_scene, render, to_tensor_range  # noqa: E402
from stages import cached, log, start_run, tool_arguments  # noqa: E402
from train_vae import vae_psnr  # noqa: E402
from vae_reuse import SDXL_SCALING_FACTOR, load_tiny_vae  # noqa: E402

CONFIG = {
    "seed": 1234,
    "held_out_per_shape": 12,
    # latents the UNet trains on: (width, height, count), and how often each micro-conditioning
    # mode makes a training image (data_xl.py)
    "canvases": [[64, 64, 16000], [96, 64, 2000], [64, 96, 2000]],
    "micro_conditioning": {"full": 0.6, "crop": 0.25, "lowres": 0.15},
    # UNet + text encoders
    "unet_channels": [48, 96, 128],
    "unet_attention": [False, True, True],
    "text_dim": 128,
    "text_layers": 3,
    "text2_dim": 64,
    "text2_layers": 3,
    "text2_proj_dim": 64,
    "text_mlp": 4,
    "addition_time_embed_dim": 32,
    "unet_steps": 2400,
    "unet_batch": 64,
    "unet_lr": 1e-3,
    "unet_warmup": 150,
    "unet_resume_steps": 1500,
    "unet_resume_lr": 6e-4,
    "caption_dropout": 0.1,
    "min_snr_gamma": 5.0,
    "ema_decay": 0.995,
    # evaluation; the default guidance goes into model_index.json
    "default_guidance": 2.0,
    "eval_guidances": [1.0, 2.0, 3.0],
}


def check_same_as_tiny(held, bpe):
    """The caption language and the held-out combinations must be tiny's, so the two models'
    scores compare and the product's tokenizer reads both vocabularies the same way."""
    with open(os.path.join(shared.TINY_TRAIN, "heldout.json"), encoding="utf-8") as f:
        tiny_held = [tuple(t) for t in json.load(f)["combinations"]]
    if tiny_held != held:
        raise AssertionError("held-out combinations differ from models/tiny/train/heldout.json")
    if ClipBpe.from_files(os.path.join(shared.TINY_MODEL, "tokenizer", "merges.txt")).merges != bpe.merges:
        raise AssertionError("BPE merges differ from models/tiny/tokenizer")


def main():
    ap = tool_arguments(HERE, ["unet", "eval"])
    ap.add_argument("--record", default=os.path.join(HERE, "last-run.json"))
    ap.add_argument("--from-checkpoint", action="store_true",
                    help="evaluate and export the EMA weights of the last checkpoint of an unfinished training")
    args = ap.parse_args()
    cfg = start_run(args, CONFIG)
    out = os.path.abspath(args.out)
    t_all = time.time()
    report = {"config": cfg}

    rng = np.random.default_rng(cfg["seed"])
    held = held_out_triples(rng, cfg["held_out_per_shape"])
    train_triples = [t for t in all_triples() if t not in set(held)]
    bpe = build_caption_bpe(caption_corpus())
    check_same_as_tiny(held, bpe)
    log(f"tokenizer: {len(bpe.merges)} merges, vocabulary {len(bpe.encoder)} (models/tiny's)")

    calib_rng = np.random.default_rng(cfg["seed"] + 5)
    calibration = torch.from_numpy(to_tensor_range(render([random_scene(calib_rng, train_triples) for _ in range(1024)])))
    enc, dec, k = load_tiny_vae(calibration)
    psnr = vae_psnr(enc, dec, render([random_scene(np.random.default_rng(cfg["seed"] + 7), all_triples()) for _ in range(256)]))
    report["vae"] = {"from": "models/tiny (ONNX initializers)", "latent_scale_k": round(k, 5), "psnr_db": round(psnr, 2)}
    log(f"vae: models/tiny's, latents scaled by k = {k:.4f}; PSNR {psnr:.2f} dB on 256 fresh scenes")

    from data_xl import encode_latents_xl
    lat_key = {k_: cfg[k_] for k_ in ("seed", "held_out_per_shape", "canvases", "micro_conditioning")}
    lat_key["latent_scale_k"] = k
    data = cached(os.path.join(args.cache, "latents.pt"), lat_key,
                  lambda: encode_latents_xl(cfg, enc, train_triples, bpe, log))
    data["scaling_factor"] = SDXL_SCALING_FACTOR
    full = data["groups"][0]
    is_full = (full["time_ids"][:, 2:4] == 0).all(1) & (full["time_ids"][:, 0:2] == full["time_ids"][:, 4:6]).all(1)
    report["latents_seconds"] = round(data["seconds"])
    report["latent_std_at_0.13025"] = round(float((full["latents"][is_full] * SDXL_SCALING_FACTOR).std()), 4)
    log(f"latents * {SDXL_SCALING_FACTOR}: std {report['latent_std_at_0.13025']} (64x64, full scenes)")

    from networks_xl import XlFamily, build_xl_nets
    from train_unet import train_rounds
    unet_key = {**lat_key, **{k_: v for k_, v in cfg.items()
                              if k_.startswith(("unet_", "text", "caption_", "min_snr", "ema_", "addition_"))
                              and "resume" not in k_}}
    family = XlFamily(cfg, len(bpe.encoder))
    checkpoint = os.path.join(args.cache, "unet-checkpoint.pt")
    if args.from_checkpoint:
        nets_state = torch.load(checkpoint)
        report["unet"] = {"from_checkpoint": {"round": nets_state.get("round", 1), "steps": nets_state["steps"]}}
        log(f"using the checkpoint of round {nets_state.get('round', 1)} after {nets_state['steps']} steps")
    else:
        nets_state, report["unet"] = train_rounds(cfg, data, family, args.cache, unet_key, log, checkpoint=checkpoint)
    nets = build_xl_nets(cfg, len(bpe.encoder))
    for name, net in nets.items():
        net.load_state_dict(nets_state[name])
        net.eval()
    from networks import count_params
    report["parameters"] = {name: count_params(net) for name, net in nets.items()}
    report["parameters"].update({"vae_encoder": count_params(enc), "vae_decoder": count_params(dec)})
    if args.stop_after == "unet":
        return

    from evaluate_xl import evaluate_xl
    report["eval"] = evaluate_xl(cfg, held, train_triples, bpe, nets, dec, SDXL_SCALING_FACTOR, log,
                                 os.path.join(HERE, "eval-grid.png"))
    if args.stop_after == "eval":
        return

    from export_xl import export_xl
    t_export = time.time()
    report["onnx_max_abs_diff"] = export_xl(out, cfg, bpe, nets, enc, dec, log)
    report["export_seconds"] = round(time.time() - t_export)
    report["run_seconds"] = round(time.time() - t_all)
    with open(args.record, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    log(json.dumps({k_: v for k_, v in report.items() if k_ != "config"}))


if __name__ == "__main__":
    main()
