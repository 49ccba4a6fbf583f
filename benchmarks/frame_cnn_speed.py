"""Training throughput of a frame CNN on this machine: fp32 vs bf16 autocast, NCHW vs channels_last, and
``torch.compile`` of the best eager setting.

    .venv/bin/python benchmarks/frame_cnn_speed.py --backbones face_vgg_s face_vgg_xs --steps 20 [--compile]

Prints the CPU's capability and what ``precision: auto`` / ``channels_last: auto`` choose on it, then images/s of
forward + backward + SGD step on random 40 px faces (batch 128), after 3 warm-up steps (the compiled variant also
reports its compile time, spent in the warm-up); the row ``auto`` would train with is marked.
"""

from __future__ import annotations

import argparse
import time

import torch

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.hardware import choose_compute
from hybrid_recommender.face_models.networks import FrameCNN
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS


def images_per_second(backbone: str, bf16: bool, channels_last: bool, steps: int, batch: int, size: int,
                      compile_net: bool = False) -> tuple[float, float]:
    """(images/s over the timed steps, seconds of the warm-up steps)."""
    torch.manual_seed(0)
    net = FrameCNN(backbone, make_heads(DEFAULT_AGE_GROUPS), 1, pretrained=False).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    model = torch.compile(net) if compile_net else net
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 1, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 7, (batch,))
    elapsed = warmup = 0.0
    for step in range(steps + 3):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x)["emotion"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 3:
            elapsed += time.perf_counter() - start
        else:
            warmup += time.perf_counter() - start
    return steps * batch / elapsed, warmup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["face_vgg_s", "face_vgg_xs", "resnet18"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of bf16 + channels_last")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    auto = choose_compute("auto", "auto", "cpu")
    hw = auto.hardware
    print(f"CPU capability {hw.cpu_capability}, native bf16 (AVX-512 BF16 / AMX) {hw.cpu_native_bf16}, "
          f"torch threads {torch.get_num_threads()}: precision auto -> {auto.precision}, channels_last auto -> "
          f"{auto.channels_last} ({auto.reason})\n")
    print(f"| backbone | precision | memory format | images/s (batch {args.batch}, {args.size} px) | warm-up s |")
    print("|---|---|---|---|---|")
    variants = [(bf16, cl, False) for bf16 in (False, True) for cl in (False, True)]
    variants += [(True, True, True)] if args.compile else []
    for backbone in args.backbones:
        for bf16, cl, comp in variants:
            ips, warm = images_per_second(backbone, bf16, cl, args.steps, args.batch, args.size, comp)
            chosen = (bf16 == (auto.precision == "bf16-mixed") and cl == auto.channels_last and not comp)
            print(f"| {backbone} | {'bf16 autocast' if bf16 else 'fp32'} | {'channels_last' if cl else 'NCHW'}"
                  f"{' + torch.compile' if comp else ''}{' (auto)' if chosen else ''} | {ips:.0f} | {warm:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
