"""Training in several processes (Lightning's spawn-based DDP) without re-running the pipeline: what the frame
CNN's fit needs so that only the fit runs in the extra processes and everything after it runs in the calling one.
docs/face_models.md, "Several GPUs or machines"."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies.launchers import (  # private: the only way to tell how the processes started
    _MultiProcessingLauncher,
    _SubprocessScriptLauncher,
)

from hybrid_recommender.face_models.hardware import usable_cpus
from hybrid_recommender.face_models.model import FaceAttributeModule


def one_device_kwargs(kwargs: dict) -> dict:
    """``kwargs`` for one process on one device (the first one named): the steps after a spawn-based fit, and the
    LSTMs, whose few hundred clips would train slower than a spawn starts."""
    devices = kwargs["devices"]
    return kwargs | {"devices": devices[:1] if isinstance(devices, list) else 1, "strategy": "auto", "num_nodes": 1}


class FrameCNNModule(FaceAttributeModule):
    """The frame CNN's module, its logged values averaged over the training processes when there are several
    (``sync_dist``): each process validates its share of the faces, and the loss that picks the checkpoint and
    stops early must be the whole validation set's, as on one process."""

    def log(self, name, value, *args, **kwargs):
        kwargs.setdefault("sync_dist", getattr(self._trainer, "world_size", 1) > 1)
        super().log(name, value, *args, **kwargs)


FACTS = "run_facts/"   # callback_metrics keys of TrainingFacts


class TrainingFacts(pl.Callback):
    """What the training processes know and the main process would otherwise lose: a spawn-based strategy hands
    back only rank 0's weights, the best checkpoint's path and ``callback_metrics``, so the facts travel in
    ``callback_metrics`` (``run_facts/...``): the steps and epochs trained, the planned steps, the world size, and
    how many distinct processes trained (their ids gathered over the process group) and with how many threads.

    With several processes on one machine, each gets its share of the usable cores (a cgroup quota counted) as
    torch threads, so that 2 processes on 2 cores run 1 thread each instead of 2 each."""

    def setup(self, trainer, pl_module, stage):
        if trainer.num_devices > 1:
            torch.set_num_threads(max(1, usable_cpus() // trainer.num_devices))

    def on_train_start(self, trainer, pl_module):
        pids = trainer.strategy.all_gather(torch.tensor(os.getpid()))
        pids = pids.reshape(-1).tolist()
        self._record(trainer, planned_steps=int(trainer.estimated_stepping_batches), world_size=trainer.world_size,
                     processes=len(set(pids)), rank_zero_pid=pids[0], threads_per_process=torch.get_num_threads())

    def on_train_end(self, trainer, pl_module):
        self._record(trainer, steps=trainer.global_step, epochs=trainer.current_epoch)

    @staticmethod
    def _record(trainer, **facts):
        for key, value in facts.items():
            trainer.callback_metrics[FACTS + key] = torch.tensor(int(value))

    @staticmethod
    def read(trainer) -> dict[str, int]:
        return {k.removeprefix(FACTS): int(v) for k, v in trainer.callback_metrics.items() if k.startswith(FACTS)}


def refuse_relaunch(trainer: pl.Trainer) -> None:
    """Lightning's ``ddp`` starts the extra processes by running this program again: under ``kedro run``, every
    node again. Refuse it unless a launcher outside (torchrun, SLURM) started the processes."""
    launcher = trainer.strategy.launcher
    if isinstance(launcher, _SubprocessScriptLauncher) and \
            not trainer.strategy.cluster_environment.creates_processes_externally:
        raise ValueError(
            "face_models.hardware.strategy (Lightning's `ddp` launcher) would start each extra training "
            "process by running `kedro run` again, which re-runs every node: use `ddp_spawn` (docs/face_models.md, "
            "\"Several GPUs or machines\"), or start the processes with torchrun.")


def spawned(trainer: pl.Trainer) -> bool:
    """Whether the fit ran in processes started for it (ddp_spawn, ddp_fork): this process holds rank 0's weights
    but no process group, so nothing after the fit may go through this Trainer's strategy again."""
    return isinstance(trainer.strategy.launcher, _MultiProcessingLauncher)


def save_weights(module: pl.LightningModule, path: Path, facts: Mapping[str, int]) -> None:
    """A weights-only checkpoint in Lightning's layout (what ``trainer.save_checkpoint(weights_only=True)`` writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "epoch": facts.get("epochs", 0), "global_step": facts.get("steps", 0),
                "pytorch-lightning_version": pl.__version__}, path)
