"""What this machine can do fast: the training precision, the memory format and the thread count, chosen from the
hardware rather than from the machine a setting was tuned on.

bf16 autocast doubles the small face nets where the CPU computes bf16 natively (AVX-512 BF16 or AMX) and is
emulated, about 13x slower than fp32, where it does not (AVX2-only CPUs: most laptops and many cloud machines);
docs/face_models.md has the measured table for both kinds.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from hybrid_recommender.face_models.params import asked_devices

AUTO = "auto"


@dataclass(frozen=True)
class Hardware:
    """The facts the choices depend on (a test fakes them)."""

    accelerator: str          # "cpu" or "cuda": where Lightning will train
    cpu_capability: str       # torch.backends.cpu.get_cpu_capability(): "AVX2", "AVX512", "DEFAULT", ...
    cpu_native_bf16: bool     # AVX-512 BF16 or AMX tiles
    cuda_bf16: bool           # a GPU with bf16 (Ampere and newer)


def detect_hardware(accelerator: str = AUTO) -> Hardware:
    """This machine, for Lightning's ``accelerator`` setting (``auto``: a GPU where there is one)."""
    on_gpu = accelerator in (AUTO, "gpu", "cuda") and torch.cuda.is_available()
    return Hardware(
        accelerator="cuda" if on_gpu else "cpu",
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        cpu_native_bf16=bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()),
        cuda_bf16=bool(on_gpu and torch.cuda.is_bf16_supported()),
    )


@dataclass(frozen=True)
class ComputeChoice:
    """What training runs with, and why (logged as MLflow params and written in the model card)."""

    precision: str
    channels_last: bool
    reason: str
    hardware: Hardware

    def to_dict(self) -> dict:
        return {"precision": self.precision, "channels_last": self.channels_last, "reason": self.reason,
                **{f"hardware_{k}": v for k, v in asdict(self.hardware).items()}}


def choose_precision(requested: str, hw: Hardware) -> tuple[str, str]:
    """Lightning's precision for ``requested`` (an explicit value wins; ``auto`` decides from ``hw``) and why."""
    if requested != AUTO:
        return str(requested), "set explicitly"
    if hw.accelerator == "cuda":
        return ("bf16-mixed", "GPU with bf16") if hw.cuda_bf16 else ("16-mixed", "GPU without bf16: fp16 autocast")
    if hw.cpu_native_bf16:
        return "bf16-mixed", f"CPU {hw.cpu_capability} with native bf16 (AVX-512 BF16 / AMX)"
    return "32-true", f"CPU {hw.cpu_capability} without native bf16 (bf16 would be emulated, ~13x slower)"


def choose_channels_last(requested: bool | str, hw: Hardware) -> bool:
    """``auto``: channels_last, which measured faster on both CPU kinds in fp32 and bf16 (benchmarks/
    frame_cnn_speed.py) and is what GPU autocast convolutions prefer; an explicit true/false wins."""
    if requested == AUTO:
        return True
    if not isinstance(requested, bool):
        raise ValueError(f"face_models.frame_cnn.channels_last must be true, false or auto, got {requested!r}")
    return requested


def choose_compute(precision: str, channels_last: bool | str, accelerator: str = AUTO,
                   hw: Hardware | None = None) -> ComputeChoice:
    hw = hw or detect_hardware(accelerator)
    chosen, reason = choose_precision(precision, hw)
    return ComputeChoice(chosen, choose_channels_last(channels_last, hw), reason, hw)


def usable_cpus() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def torch_threads(setting: int | str | None) -> int | None:
    """Torch's CPU thread count for a ``num_threads`` setting: ``auto`` = the usable cores, null = torch's default."""
    if setting is None:
        return None
    if setting == AUTO:
        return usable_cpus()
    return int(setting)


# ------------------------------------------------------------------------------------------- several devices
DEVICES_KEY = "face_models.hardware.devices"


def wants_gpus(accelerator: str, gpus: int) -> bool:
    """Whether ``accelerator`` trains on GPUs: ``gpu``/``cuda``, or ``auto`` on a machine with a GPU."""
    return accelerator in ("gpu", "cuda") or (accelerator == AUTO and gpus > 0)


def check_devices(accelerator: str, devices: int | str | list[int], environment: str | None = None,
                  gpus: int | None = None) -> None:
    """Refuse, before any training, a ``devices`` setting this machine cannot give (more GPUs than it has), with the
    setting, what was found and the override; Lightning would fail later with a traceback from inside the Trainer.
    ``gpus``: the GPU count (default ``torch.cuda.device_count()``; a test fakes it)."""
    gpus = torch.cuda.device_count() if gpus is None else gpus
    count, needed = asked_devices(devices)
    # `auto` x several devices on a machine without a GPU: GPUs asked for (it would start CPU processes by accident);
    # `accelerator: cpu` asks for CPU processes, any number
    if not (wants_gpus(accelerator, gpus) or (accelerator == AUTO and count > 1)):
        return
    if 0 < gpus and needed <= gpus:
        return
    asked = "every GPU" if needed == 0 else f"{needed} GPU(s)" if not isinstance(devices, list) else \
        f"GPU index {needed - 1}"
    fix = f"{DEVICES_KEY}={max(gpus, 1)}"
    if not gpus and accelerator != AUTO:   # `auto` on one device is the CPU where there is no GPU
        fix = f"face_models.hardware.accelerator=cpu,{fix}"
    env = f" --env {environment}" if environment and environment not in ("base", "local") else ""
    raise ValueError(
        f"{DEVICES_KEY} is {devices!r} with accelerator {accelerator!r}: {asked} asked for, but "
        f"torch.cuda.device_count() found {gpus} on this machine. Ask for what it has, e.g. "
        f"`kedro run{env} --params {fix}`.")
