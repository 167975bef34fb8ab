"""Time to a test accuracy, ours against the PyTorch recipe, back to back in one invocation.

    eval "$(bash scripts/setup.sh)"; make build
    .torch/venv/bin/python3 bench/time_to_accuracy.py [--profile fast] [--order ours-first]

Runs `alexnet-tui --headless --json --profile PROFILE` until it stops itself at the profile's
target accuracy, then bench/recipe.py (the tuned PyTorch recipe of ../shared/ENVIRONMENT.md) to the
same target, or the other way round with --order pytorch-first. Both times count from the first
training step and include every test evaluation. This machine's speed drifts within an hour, so
only the ratio of two runs made back to back means much. Logs go to --out.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_ours(binary: str, profile: str, out: str) -> dict:
    log = os.path.join(out, "ours.jsonl")
    started = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(
            [binary, "--headless", "--json", "--profile", profile,
             "--config", os.path.join(ROOT, "config.toml")],
            cwd=out, stdout=f, check=True,
        )
    wall = time.perf_counter() - started
    minutes, epochs, accuracy, reason = math.nan, math.nan, math.nan, None
    trained_images, trained_seconds = 0, 0.0
    with open(log) as f:
        for line in f:
            event = json.loads(line)
            if event.get("event") == "epoch" and event["test"]:  # null before eval_from
                accuracy = event["test"]["accuracy"]
                epochs = event["epoch"] + 1
                minutes = event["elapsed_seconds"] / 60
            elif event.get("event") == "tested":  # a test inside an epoch
                accuracy = event["test"]["accuracy"]
                epochs = event["position"]
                minutes = event["elapsed_seconds"] / 60
            elif event.get("event") == "batch":
                trained_images += event["images"]
                trained_seconds += event["seconds"]
            elif event.get("event") == "finished":
                reason = event.get("reason")
    reached = minutes if reason == "target_reached" else math.nan
    speed = trained_images / trained_seconds if trained_seconds > 0 else math.nan
    return {"minutes": reached, "epochs": epochs, "accuracy": accuracy,
            "images_per_second": speed, "process_minutes": wall / 60}


def run_pytorch(python: str, target: float, out: str) -> dict:
    log = os.path.join(out, "pytorch.log")
    started = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(
            [python, os.path.join(ROOT, "bench", "recipe.py"), "--target", str(target)],
            cwd=os.path.join(ROOT, "bench"), stdout=f, check=True,
        )
    wall = time.perf_counter() - started
    with open(log) as f:
        last = f.read().strip().splitlines()[-1]
    values = dict(re.findall(r"(\w+)=([\w.]+)", last))
    return {"minutes": float(values["minutes_to_target"]), "epochs": float(values["epochs"]),
            "accuracy": float(values["accuracy"]), "images_per_second": math.nan,
            "process_minutes": wall / 60}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--target", type=float, default=0.88,
                        help="the PyTorch side's target; ours uses its profile's")
    parser.add_argument("--order", choices=["ours-first", "pytorch-first"], default="ours-first")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "alexnet-tui"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results",
                                                      time.strftime("tta-%Y%m%d-%H%M%S")))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sides = [("ours", lambda: run_ours(args.binary, args.profile, args.out)),
             ("pytorch", lambda: run_pytorch(sys.executable, args.target, args.out))]
    if args.order == "pytorch-first":
        sides.reverse()
    results = {}
    for name, run in sides:
        print(f"{time.strftime('%H:%M:%S')} running {name}...", flush=True)
        results[name] = run()
        print(f"{time.strftime('%H:%M:%S')} {name}: {results[name]}", flush=True)
    print(f"{'':8} {'minutes to target':>18} {'epochs':>7} {'accuracy':>9} {'process minutes':>16}")
    for name in ("ours", "pytorch"):
        r = results[name]
        print(f"{name:8} {r['minutes']:>18.2f} {r['epochs']:>7.2f} {r['accuracy']:>9.4f} "
              f"{r['process_minutes']:>16.2f}")
    ratio = results["ours"]["minutes"] / results["pytorch"]["minutes"]
    print(f"ratio ours/pytorch = {ratio:.3f} (the goal is at most 0.667); logs in {args.out}")


if __name__ == "__main__":
    main()
