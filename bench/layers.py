"""Per-layer forward and backward times of the notebook's AlexNet in PyTorch 2.9 eager mode, by the
same method as `alexnet-tui bench --layers`: each layer alone, fed the activations of a batch, its
input detached (requiring a gradient from the second layer on), the backward started from its
output with a gradient of ones; median of the repeats after one untimed run.
Prints `layer <index> <forward seconds> <backward seconds> <name>` per layer."""

import argparse
import statistics
import time

import torch
from torch import nn

from reference import xavier_alexnet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = xavier_alexnet(args.resize)
    net.train()
    pixels = torch.randint(0, 256, (args.batch, 1, 28, 28), dtype=torch.uint8)
    x = nn.functional.interpolate(
        pixels.float().div(255.0), size=(args.resize, args.resize), mode="bilinear", align_corners=False
    )
    for index, layer in enumerate(net):
        forward, backward = [], []
        for run in range(args.repeats + 1):
            inp = x.detach().requires_grad_(index > 0)
            started = time.perf_counter()
            out = layer(inp)
            forward_seconds = time.perf_counter() - started
            started = time.perf_counter()
            out.backward(torch.ones_like(out))
            backward_seconds = time.perf_counter() - started
            for p in layer.parameters():
                p.grad = None
            if run > 0:
                forward.append(forward_seconds)
                backward.append(backward_seconds)
        print(
            f"layer {index} {statistics.median(forward)} {statistics.median(backward)} {type(layer).__name__}",
            flush=True,
        )
        with torch.no_grad():
            x = layer(x)


if __name__ == "__main__":
    main()
