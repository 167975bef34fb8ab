"""The notebook's AlexNet and SGD step in PyTorch 2.9 eager mode: the reference that
`alexnet-tui bench --pytorch` runs in turn with ours, in up to four variants (eager,
channels_last, bf16 autocast, both). Prints `variant=<name> warmup_steps=<n> settled=<bool>
images_per_second=<float>` per variant."""

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


VARIANTS = ("eager", "cl", "bf16", "cl_bf16")


def settled(times: list, tolerance: float) -> bool:
    """Two consecutive step times within `tolerance` of each other."""
    return len(times) >= 2 and abs(times[-1] - times[-2]) <= tolerance * min(times[-1], times[-2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="at least this many warm-up steps")
    parser.add_argument(
        "--warmup-max", type=int, default=0,
        help="then warm up until two consecutive steps are within 5%%, up to this many in all "
        "(0: exactly --warmup steps)",
    )
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--nesterov", action="store_true")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    parser.add_argument(
        "--variants", default="eager",
        help="comma-separated: eager, cl (model and input channels_last), bf16 (CPU autocast to "
        "bfloat16 around forward and loss), cl_bf16",
    )
    args = parser.parse_args()
    variants = args.variants.split(",")
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    torch.set_num_threads(args.threads)
    loss_fn = nn.CrossEntropyLoss()
    # The same work as ours per step: 28x28 bytes in, scaled and resized bilinearly, then the step.
    pixels = torch.randint(0, 256, (args.batch, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.batch,))

    for variant in variants:
        channels_last = variant.startswith("cl")
        bf16 = variant.endswith("bf16")
        net = xavier_alexnet(args.resize)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(
            net, args.optimizer, 1e-4, args.momentum, args.nesterov, args.weight_decay
        )

        def step() -> None:
            x = pixels.float().div(255.0)
            x = nn.functional.interpolate(
                x, size=(args.resize, args.resize), mode="bilinear", align_corners=False
            )
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(net(x), labels)
            loss.backward()
            optimizer.step()

        net.train()
        times = []
        while len(times) < args.warmup or (
            len(times) < args.warmup_max and not settled(times, 0.05)
        ):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(args.steps):
            step()
        seconds = time.perf_counter() - started
        print(
            f"variant={variant} warmup_steps={len(times)} settled={settled(times, 0.05)} "
            f"images_per_second={args.steps * args.batch / seconds}",
            flush=True,
        )


if __name__ == "__main__":
    main()
