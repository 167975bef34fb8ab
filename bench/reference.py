"""The notebook's AlexNet and SGD step in PyTorch 2.9 eager mode: the reference that
`alexnet-tui bench --pytorch` runs in turn with ours. Prints `images_per_second=<float>` last."""

import argparse
import time

import torch
from torch import nn


def notebook_alexnet(flatten: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(flatten, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10),
    )


def xavier_alexnet(resize: int) -> nn.Sequential:
    """The notebook's model for resize x resize inputs, with Xavier-uniform weights."""
    with torch.no_grad():
        probe = notebook_alexnet(1)[:13](torch.zeros(1, 1, resize, resize))
    net = notebook_alexnet(probe.numel())
    for m in net:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return net


def make_optimizer(
    net: nn.Module, which: str, lr: float, momentum: float, nesterov: bool, weight_decay: float
) -> torch.optim.Optimizer:
    """The update alexnet-tui's training.optimizer names: "sgd" (momentum, Nesterov, L2 weight
    decay) or "adamw" (decoupled weight decay, eps 1e-8 as ours)."""
    if which == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=lr, eps=1e-8, weight_decay=weight_decay)
    return torch.optim.SGD(
        net.parameters(), lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--nesterov", action="store_true")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = xavier_alexnet(args.resize)
    optimizer = make_optimizer(
        net, args.optimizer, 1e-4, args.momentum, args.nesterov, args.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    # The same work as ours per step: 28x28 bytes in, scaled and resized bilinearly, then the step.
    pixels = torch.randint(0, 256, (args.batch, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.batch,))

    def step() -> None:
        x = pixels.float().div(255.0)
        x = nn.functional.interpolate(x, size=(args.resize, args.resize), mode="bilinear", align_corners=False)
        optimizer.zero_grad()
        loss = loss_fn(net(x), labels)
        loss.backward()
        optimizer.step()

    net.train()
    for _ in range(args.warmup):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - started
    print(f"images_per_second={args.steps * args.batch / seconds}")


if __name__ == "__main__":
    main()
