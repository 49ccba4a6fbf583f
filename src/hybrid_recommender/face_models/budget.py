"""Training sized by a time budget: measure this machine's speed over a few real steps, then plan a one-cycle
schedule that completes inside the budget (instead of a fixed number of epochs tuned on another machine, cut
short by a hard stop).

The plan is whole passes of ``batches_per_epoch`` batches (all of an epoch when it fits, a shuffled part of each
epoch otherwise), so every pass ends with the validation that picks the checkpoint, and the one-cycle's last,
lowest-learning-rate steps are the ones kept.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import pytorch_lightning as pl

Clock = Callable[[], float]


@dataclass(frozen=True)
class SchedulePlan:
    budget_seconds: float        # the whole budget, the speed probe included
    probe_seconds: float         # spent measuring (counts against the budget)
    step_seconds: float          # one training step, measured after warm-up
    validation_seconds: float    # one whole validation pass, estimated from the measured batches
    steps_per_epoch: int         # batches in a full pass over the training faces
    epochs: int
    batches_per_epoch: int       # <= steps_per_epoch

    @property
    def steps(self) -> int:
        return self.epochs * self.batches_per_epoch

    @property
    def planned_seconds(self) -> float:
        return self.probe_seconds + self.epochs * (self.batches_per_epoch * self.step_seconds + self.validation_seconds)

    def to_dict(self) -> dict:
        return {**asdict(self), "steps": self.steps, "planned_seconds": self.planned_seconds}


def plan_schedule(budget_seconds: float, probe_seconds: float, step_seconds: float, validation_seconds: float,
                  steps_per_epoch: int, max_epochs: int | None = None, margin: float = 0.05) -> SchedulePlan:
    """The most optimiser steps that fit in ``(1 - margin)`` of the budget left after the probe, as ``epochs``
    passes of ``batches_per_epoch`` batches, each pass followed by one validation; at most ``max_epochs`` full
    epochs (a fast machine finishes early rather than training past the recipe). At least one step."""
    if step_seconds <= 0 or steps_per_epoch < 1:
        raise ValueError(f"plan_schedule: step_seconds ({step_seconds}) must be > 0 and steps_per_epoch "
                         f"({steps_per_epoch}) >= 1")
    usable = max(0.0, (budget_seconds - probe_seconds) * (1.0 - margin))
    best = (1, 1)
    cap = max_epochs if max_epochs and max_epochs > 0 else 10**6
    for epochs in range(1, cap + 1):
        batches = min(steps_per_epoch, math.floor((usable / epochs - validation_seconds) / step_seconds))
        if batches < 1:
            break
        if epochs * batches > best[0] * best[1]:
            best = (epochs, batches)
        if batches < steps_per_epoch:   # another pass would only add a validation
            break
    return SchedulePlan(float(budget_seconds), float(probe_seconds), float(step_seconds), float(validation_seconds),
                        int(steps_per_epoch), *best)


class StepTimer(pl.Callback):
    """Wall time between consecutive training-batch ends (data, augmentation, step, logging: all of it) and of
    validation batches."""

    def __init__(self, clock: Clock = time.perf_counter):
        self.clock = clock
        self.train_intervals: list[float] = []
        self.validation_batch_seconds: list[float] = []
        self._last: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        now = self.clock()
        if self._last is not None:
            self.train_intervals.append(now - self._last)
        self._last = now

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._val_start = self.clock()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.validation_batch_seconds.append(self.clock() - self._val_start)


@dataclass(frozen=True)
class Speed:
    step_seconds: float
    validation_batch_seconds: float
    probe_seconds: float


def measure_speed(module: pl.LightningModule, datamodule: pl.LightningDataModule, trainer_kwargs: dict,
                  warmup_steps: int, timed_steps: int, validation_batches: int,
                  callbacks: Sequence[pl.Callback] = (), clock: Clock = time.perf_counter) -> Speed:
    """Train a throw-away copy of ``module`` for ``warmup_steps + timed_steps`` real steps (same data, precision,
    device and progress bar as the run, and copies of ``callbacks`` that do work every step, such as an EMA of the
    weights) and validate it on a few batches; the mean step time excludes the warm-up."""
    start = clock()
    timer = StepTimer(clock)
    probe = pl.Trainer(**{**trainer_kwargs, "max_steps": warmup_steps + timed_steps + 1, "max_epochs": -1,
                          "max_time": None, "limit_train_batches": 1.0, "limit_val_batches": validation_batches,
                          "check_val_every_n_epoch": 10**6, "enable_model_summary": False, "logger": False,
                          "enable_checkpointing": False},
                       callbacks=[timer, *copy.deepcopy(list(callbacks))])
    copy_ = copy.deepcopy(module)
    probe.fit(copy_, datamodule=datamodule)
    if validation_batches:
        probe.validate(copy_, datamodule=datamodule, verbose=False)
    timed = timer.train_intervals[warmup_steps:] or timer.train_intervals or [float("nan")]
    val = timer.validation_batch_seconds
    return Speed(step_seconds=sum(timed) / len(timed), validation_batch_seconds=(sum(val) / len(val)) if val else 0.0,
                 probe_seconds=clock() - start)
