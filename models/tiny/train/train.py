"""Trains the embedded demo model and writes it in the Hugging Face ONNX layout of Stable Diffusion.

    /usr/bin/python3 models/tiny/train/train.py [--out models/tiny] [--stop-after vae|unet|eval]

Stages (each cached in models/tiny/train/cache/ under the settings that made it, so a rerun with
the same settings skips straight to what changed): tokenizer, VAE, latents, UNet + text encoder,
evaluation, ONNX export with an onnxruntime check.
"""
import json
import os
import sys
import time

# Worker threads that spin while they wait for each other burn the CPU they wait for; on a
# shared machine that makes two threads several times slower than one. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bpe_tokenizer import build_caption_bpe  # noqa: E402
from scene import all_triples, caption_corpus, held_out_triples, random_scene, render  # noqa: E402
from stages import cached, log, start_run, tool_arguments  # noqa: E402
from train_vae import sharpen_decoder, train_vae, vae_psnr  # noqa: E402

CONFIG = {
    "seed": 1234,
    "held_out_per_shape": 12,
    # VAE
    "vae_steps": 4000,
    "vae_crop_steps": 2800,
    "vae_decoder_steps": 400,
    "vae_batch": 16,
    "vae_lr": 1.5e-3,
    "vae_kl": 1e-5,
    "sharpen_steps": 600,
    "sharpen_lr": 5e-4,
    # latents the UNet trains on: (width, height, count)
    "canvases": [[64, 64, 16000], [96, 64, 2000], [64, 96, 2000]],
    # UNet + text encoder
    "unet_channels": [48, 96, 128],
    "unet_attention": [False, True, True],
    "text_dim": 128,
    "text_layers": 2,
    "text_mlp": 4,
    "unet_steps": 1500,
    "unet_batch": 64,
    "unet_lr": 1e-3,
    "unet_warmup": 150,
    # A second round from the first round's (EMA) weights, with a fresh schedule.
    "unet_resume_steps": 1500,
    "unet_resume_lr": 6e-4,
    "caption_dropout": 0.1,
    "min_snr_gamma": 5.0,
    "ema_decay": 0.995,
}


def main():
    args = tool_arguments(HERE, ["vae", "unet", "eval"]).parse_args()
    cfg = start_run(args, CONFIG)
    out = os.path.abspath(args.out)
    t_all = time.time()
    report = {"config": cfg}

    rng = np.random.default_rng(cfg["seed"])
    held = held_out_triples(rng, cfg["held_out_per_shape"])
    train_triples = [t for t in all_triples() if t not in set(held)]
    with open(os.path.join(HERE, "heldout.json"), "w", encoding="utf-8") as f:
        json.dump({"note": "(shape, color, background) combinations never shown in training",
                   "combinations": [list(t) for t in held]}, f, indent=1)
        f.write("\n")

    bpe = build_caption_bpe(caption_corpus())
    bpe.write(os.path.join(out, "tokenizer"))
    log(f"tokenizer: {len(bpe.merges)} merges, vocabulary {len(bpe.encoder)}")

    vae_keys = ["seed", "held_out_per_shape", "vae_steps", "vae_crop_steps", "vae_decoder_steps", "vae_batch", "vae_lr", "vae_kl"]
    vae_key = {k: cfg[k] for k in vae_keys}

    def make_vae():
        enc, dec, seconds = train_vae(cfg, train_triples, log)
        return {"enc": enc.state_dict(), "dec": dec.state_dict(), "seconds": seconds}

    vae = cached(os.path.join(args.cache, "vae.pt"), vae_key, make_vae)
    from networks import VaeDecoder, VaeEncoder
    enc, dec = VaeEncoder(), VaeDecoder()
    enc.load_state_dict(vae["enc"])
    dec.load_state_dict(vae["dec"])
    enc.eval()
    dec.eval()
    psnr = vae_psnr(enc, dec, render([random_scene(np.random.default_rng(cfg["seed"] + 7), all_triples()) for _ in range(256)]))
    report["vae"] = {"train_seconds": round(vae["seconds"]), "psnr_db": round(psnr, 2)}
    log(f"vae: PSNR {psnr:.2f} dB on 256 fresh scenes, trained in {vae['seconds']:.0f}s")
    if args.stop_after == "vae":
        return

    from train_unet import SdFamily, encode_latents, train_rounds
    lat_key = {**vae_key, "canvases": cfg["canvases"]}
    data = cached(os.path.join(args.cache, "latents.pt"), lat_key,
                  lambda: encode_latents(cfg, enc, train_triples, bpe, log))
    report["scaling_factor"] = data["scaling_factor"]
    report["latents_seconds"] = round(data["seconds"])

    unet_key = {**lat_key, **{k: v for k, v in cfg.items()
                              if k.startswith(("unet_", "text_", "caption_", "min_snr", "ema_")) and "resume" not in k}}
    nets, report["unet"] = train_rounds(cfg, data, SdFamily(cfg, len(bpe.encoder), bpe), args.cache, unet_key, log)
    if args.stop_after == "unet":
        return

    sharp_key = {**vae_key, "sharpen_steps": cfg["sharpen_steps"], "sharpen_lr": cfg["sharpen_lr"]}

    def make_sharp():
        sharp, seconds = sharpen_decoder(cfg, enc, dec, train_triples, log)
        return {"dec": sharp.state_dict(), "seconds": seconds}

    sharp = cached(os.path.join(args.cache, "decoder.pt"), sharp_key, make_sharp)
    dec.load_state_dict(sharp["dec"])
    psnr = vae_psnr(enc, dec, render([random_scene(np.random.default_rng(cfg["seed"] + 7), all_triples()) for _ in range(256)]))
    report["vae"].update({"sharpen_seconds": round(sharp["seconds"]), "psnr_db_final": round(psnr, 2)})
    log(f"vae after decoder sharpening: PSNR {psnr:.2f} dB")

    from evaluate import evaluate, load_nets
    text_encoder, unet = load_nets(cfg, nets, len(bpe.encoder))
    report["eval"] = evaluate(cfg, held, train_triples, bpe, text_encoder, unet, dec, data["scaling_factor"], log,
                              os.path.join(args.cache, "samples.png"))
    if args.stop_after == "eval":
        log(json.dumps(report["eval"]))
        return

    from export_onnx import export_all
    report["onnx_max_abs_diff"] = export_all(out, cfg, bpe, text_encoder, unet, enc, dec, data["scaling_factor"], log)
    report["run_seconds"] = round(time.time() - t_all)
    with open(os.path.join(HERE, "last-run.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    log(json.dumps({k: v for k, v in report.items() if k != "config"}))


if __name__ == "__main__":
    main()
