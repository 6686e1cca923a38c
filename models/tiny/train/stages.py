"""What the training drivers (this SD tool and models/tiny-xl's) share: the command line, timestamped
logging, stage results cached under the settings that made them, and `--set key=value` overrides."""
import argparse
import json
import os
import time

import torch


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cached(path, key, make):
    """Reuse a stage's result when it was made with exactly these settings."""
    if os.path.exists(path):
        blob = torch.load(path)
        if blob.get("key") == key:
            log(f"reusing {os.path.relpath(path)}")
            return blob["value"]
    value = make()
    torch.save({"key": key, "value": value}, path)
    return value


def with_overrides(config, items):
    """A copy of `config` with each 'key=JSON value' of `items` applied."""
    cfg = dict(config)
    for item in items:
        key, value = item.split("=", 1)
        cfg[key] = json.loads(value)
    return cfg


def tool_arguments(here, stop_after):
    """The drivers' common options; `here` is the driver's folder, `stop_after` its stage names."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, ".."))
    ap.add_argument("--cache", default=os.path.join(here, "cache"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stop-after", choices=stop_after, default=None)
    ap.add_argument("--set", nargs="*", default=[], help="override settings, e.g. unet_steps=3000")
    return ap


def start_run(args, config):
    """The run's settings (`config` with --set applied), after setting torch's threads and making the cache folder."""
    torch.set_num_threads(args.threads)
    os.makedirs(args.cache, exist_ok=True)
    return with_overrides(config, args.set)
