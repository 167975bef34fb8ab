"""Time to accuracy in PyTorch 2.9 eager mode: the tuned recipe of ../shared/ENVIRONMENT.md that
`bench/time-to-accuracy.sh` runs back to back with ours.

The notebook's AlexNet (Xavier-uniform weights, dropout 0.5) on 67x67 inputs, batch 128, SGD with
Nesterov momentum 0.9, a one-cycle learning rate to 0.05 over 2 epochs (25% warm-up, then cosine
down), weight decay 5e-4, label smoothing 0.1, random horizontal flips, inputs normalized with
mean 0.286 and std 0.353. The 10,000 test images are evaluated every 0.32 epochs and at the end;
the run stops at the first evaluation at or above --target. Wall time counts from the first step
and includes every evaluation. Prints one `eval ...` line per evaluation and a summary line
`minutes_to_target=<float or nan> epochs=<float> accuracy=<float>` last.
"""

import argparse
import gzip
import math
import os
import struct
import time

import torch
from torch import nn

from reference import make_optimizer, xavier_alexnet

MEAN, STD = 0.286, 0.353


def read_idx(path: str) -> torch.Tensor:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    _, _, dims = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def load(folder: str, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    def find(name: str) -> str:
        for candidate in (name + ".gz", name):
            path = os.path.join(folder, candidate)
            if os.path.exists(path):
                return path
        raise SystemExit(f"{name}(.gz) not found in {folder}")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte")).long()
    return images.unsqueeze(1), labels


def prepare(pixels: torch.Tensor, size: int) -> torch.Tensor:
    x = pixels.float().div(255.0)
    x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - MEAN) / STD


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--resize", type=int, default=67)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--eval-every", type=float, default=0.32)
    parser.add_argument(
        "--eval-from", type=float, default=0.0, help="no evaluation before this many epochs"
    )
    parser.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--warmup", type=float, default=0.25)
    parser.add_argument("--target", type=float, default=0.88)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    net = xavier_alexnet(args.resize)
    optimizer = make_optimizer(net, args.optimizer, args.lr, 0.9, True, args.weight_decay)
    steps_per_epoch = math.ceil(len(train_y) / args.batch)
    total = round(steps_per_epoch * args.epochs)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=total, pct_start=args.warmup, anneal_strategy="cos"
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def evaluate() -> float:
        net.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_y), 500):
                logits = net(prepare(test_x[start : start + 500], args.resize))
                correct += (logits.argmax(1) == test_y[start : start + 500]).sum().item()
        net.train()
        return correct / len(test_y)

    eval_interval = max(1, round(args.eval_every * steps_per_epoch))
    started = time.perf_counter()
    step, accuracy, reached = 0, float("nan"), None
    net.train()
    for epoch in range(math.ceil(args.epochs)):
        order = torch.randperm(len(train_y))
        for start in range(0, len(train_y), args.batch):
            index = order[start : start + args.batch]
            pixels = train_x[index]
            flip = torch.rand(len(index)) < 0.5
            pixels[flip] = pixels[flip].flip(-1)
            optimizer.zero_grad()
            loss = loss_fn(net(prepare(pixels, args.resize)), train_y[index])
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            due = step % eval_interval == 0 and step >= args.eval_from * steps_per_epoch
            if due or step == total:
                accuracy = evaluate()
                minutes = (time.perf_counter() - started) / 60
                print(
                    f"eval epochs={step / steps_per_epoch:.2f} accuracy={accuracy:.4f} "
                    f"minutes={minutes:.2f} loss={loss.item():.4f}",
                    flush=True,
                )
                if accuracy >= args.target:
                    reached = minutes
            if reached is not None or step == total:
                break
        if reached is not None or step == total:
            break
    print(
        f"minutes_to_target={reached if reached is not None else float('nan'):.2f} "
        f"epochs={step / steps_per_epoch:.2f} accuracy={accuracy:.4f}"
    )


if __name__ == "__main__":
    main()
