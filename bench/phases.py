"""Where one PyTorch training step's time goes (forward with the loss, backward, optimizer): the
other side of examples/step_phases.rs, same model, batch, input size and threads.

    $ALEXNET_TORCH_PYTHON bench/phases.py [BATCH] [RESIZE] [sgd|adamw]

sgd is torch.optim.SGD with Nesterov momentum 0.9 and weight decay 5e-4 (its default foreach
implementation), adamw is torch.optim.AdamW (weight decay 5e-4, as ours). Prints the median of 10 steps after 2 warm-up steps.
"""

import statistics
import sys
import time

import torch
from torch import nn

from reference import make_optimizer, xavier_alexnet


def main() -> None:
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    resize = int(sys.argv[2]) if len(sys.argv) > 2 else 67
    which = sys.argv[3] if len(sys.argv) > 3 else "sgd"
    torch.set_num_threads(2)
    net = xavier_alexnet(resize)
    net.train()
    optimizer = make_optimizer(net, which, 1e-4, 0.9, True, 5e-4)
    loss_fn = nn.CrossEntropyLoss()
    labels = torch.arange(batch) % 10
    phases = ([], [], [])
    for step in range(12):
        x = torch.rand(batch, 1, resize, resize)
        started = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(net(x), labels)
        loss.item()
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        updated = time.perf_counter()
        if step >= 2:
            for phase, seconds in zip(phases, (forward - started, backward - forward, updated - backward)):
                phase.append(seconds * 1e3)
    f, b, u = (statistics.median(p) for p in phases)
    print(
        f"PyTorch, {resize}x{resize}, batch {batch}, {torch.get_num_threads()} threads, {which}: "
        f"forward {f:.0f} ms, backward {b:.0f} ms, optimizer {u:.0f} ms, step {f + b + u:.0f} ms"
    )


if __name__ == "__main__":
    main()
