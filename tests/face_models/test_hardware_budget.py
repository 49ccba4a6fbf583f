"""Precision chosen from the hardware (faked both ways), schedules sized from measured speed (a fake clock), a
short real training with ``precision: auto`` sized by a budget on this machine, and the several-device settings
refused before any training where they cannot work (a faked GPU count, a budget with several processes, plain ddp)."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from pydantic import ValidationError
from torch.utils.data import DataLoader, TensorDataset

from hybrid_recommender.face_models.budget import measure_speed, plan_schedule
from hybrid_recommender.face_models.distributed import refuse_relaunch
from hybrid_recommender.face_models.hardware import (
    Hardware,
    check_devices,
    choose_channels_last,
    choose_compute,
    choose_precision,
    torch_threads,
    usable_cpus,
)
from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.face_models.training import _trainer_kwargs, train_frame_cnn
from hybrid_recommender.mlflow_runs import ChildRun
from tests.face_models.conftest import face_model_params
from tests.face_models.test_training import CFG, HEADS, _sets

AVX2 = Hardware("cpu", "AVX2", cpu_native_bf16=False, cuda_bf16=False)
AVX512_BF16 = Hardware("cpu", "AVX512", cpu_native_bf16=True, cuda_bf16=False)


@pytest.mark.parametrize(("hw", "expected"), [
    (AVX2, "32-true"),                                          # emulated bf16 would be ~13x slower
    (AVX512_BF16, "bf16-mixed"),
    (Hardware("cuda", "AVX2", False, cuda_bf16=True), "bf16-mixed"),
    (Hardware("cuda", "AVX2", False, cuda_bf16=False), "16-mixed"),
])
def test_auto_precision_follows_the_hardware(hw, expected):
    precision, reason = choose_precision("auto", hw)
    assert precision == expected and reason


def test_an_explicit_precision_wins_on_any_hardware():
    for hw in (AVX2, AVX512_BF16):
        assert choose_precision("bf16-mixed", hw) == ("bf16-mixed", "set explicitly")
        assert choose_precision("32-true", hw)[0] == "32-true"


def test_channels_last_auto_and_explicit():
    assert choose_channels_last("auto", AVX2) is True
    assert choose_channels_last(False, AVX512_BF16) is False
    with pytest.raises(ValueError, match="channels_last must be true, false or auto"):
        choose_channels_last("yes", AVX2)


def test_the_choice_is_recorded_with_the_hardware_behind_it():
    record = choose_compute("auto", "auto", "cpu", hw=AVX2).to_dict()
    assert record["precision"] == "32-true" and record["hardware_cpu_capability"] == "AVX2"
    assert record["hardware_cpu_native_bf16"] is False and "emulated" in record["reason"]


def test_torch_threads_auto_is_the_usable_cores():
    assert 1 <= usable_cpus() <= (torch.multiprocessing.cpu_count() or 1)
    assert torch_threads("auto") == usable_cpus()
    assert torch_threads(3) == 3 and torch_threads(None) is None


# ------------------------------------------------------------------------------------------- budget sizing
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def __deepcopy__(self, memo):   # the speed probe trains a copy of the module: it shares this clock
        return self


class TimedModule(pl.LightningModule):
    """A tiny model whose every step costs ``step_seconds`` on a fake clock (and a validation batch a fifth)."""

    def __init__(self, clock: FakeClock, step_seconds: float):
        super().__init__()
        self.clock, self.step_seconds = clock, step_seconds
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        self.clock.now += self.step_seconds
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        self.clock.now += self.step_seconds / 5

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class TinyData(pl.LightningDataModule):
    def __init__(self, n_train: int, n_val: int):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.train = TensorDataset(torch.randn(n_train, 4, generator=g), torch.randint(0, 2, (n_train,), generator=g))
        self.val = TensorDataset(torch.randn(n_val, 4, generator=g), torch.randint(0, 2, (n_val,), generator=g))

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=8, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=8)


def _kwargs(tmp_path):
    return dict(accelerator="cpu", devices=1, precision="32-true", max_epochs=1, max_steps=-1, max_time=None,
                limit_train_batches=1.0, limit_val_batches=1.0, log_every_n_steps=50, num_sanity_val_steps=0,
                enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path))


@pytest.mark.parametrize("steps_per_second", [100, 10])
def test_a_ten_minute_budget_gives_a_schedule_that_ends_inside_it(tmp_path, steps_per_second):
    """Measured speed -> plan -> the planned run, all on a fake clock: the run ends inside 10 minutes, uses most of
    them, and completes its one-cycle (Lightning's step count is the plan's)."""
    budget, step = 600.0, 1.0 / steps_per_second
    clock = FakeClock()
    data = TinyData(n_train=8 * 400, n_val=8 * 30)              # 400 steps an epoch, 30 validation batches
    speed = measure_speed(TimedModule(clock, step), data, _kwargs(tmp_path), warmup_steps=3, timed_steps=10,
                          validation_batches=2, clock=clock)
    assert speed.step_seconds == pytest.approx(step) and speed.validation_batch_seconds == pytest.approx(step / 5)
    plan = plan_schedule(budget, speed.probe_seconds, speed.step_seconds, 30 * speed.validation_batch_seconds,
                         steps_per_epoch=400, margin=0.05)
    assert budget * 0.9 <= plan.planned_seconds <= budget     # inside the budget, and most of it used
    if steps_per_second == 10:                             # run it (6,000 real steps of the tiny model)
        module = TimedModule(clock, step)
        trainer = pl.Trainer(**{**_kwargs(tmp_path), "max_epochs": plan.epochs,
                                "limit_train_batches": plan.batches_per_epoch}, logger=False,
                             enable_checkpointing=False)
        trainer.fit(module, datamodule=data)
        assert trainer.global_step == plan.steps
        assert clock.now <= budget
        assert module.lr_schedulers().last_epoch == plan.steps   # the one-cycle ran to its end


def test_a_plan_never_exceeds_the_epoch_cap_nor_drops_below_one_step():
    fast = plan_schedule(600, 5, 0.001, 0.1, steps_per_epoch=100, max_epochs=5)
    assert (fast.epochs, fast.batches_per_epoch) == (5, 100)     # a fast machine stops at the recipe's epochs
    slow = plan_schedule(60, 50, 30.0, 10.0, steps_per_epoch=100)
    assert slow.steps == 1
    partial = plan_schedule(600, 0, 1.0, 20.0, steps_per_epoch=1000)
    assert partial.epochs == 1 and partial.batches_per_epoch == math.floor(600 * 0.95 - 20)
    with pytest.raises(ValueError, match="step_seconds"):
        plan_schedule(600, 0, 0.0, 1.0, steps_per_epoch=10)


@pytest.mark.real_data
@pytest.mark.slow
def test_a_short_real_training_with_auto_precision_sized_by_a_budget(tmp_path, fer_small, utk_small):
    prep, train, val = _sets(fer_small, utk_small)
    cfg = CFG.model_copy(update={"precision": "auto", "channels_last": "auto", "max_steps": None, "max_epochs": 3,
                                 "budget_minutes": 0.2, "budget_warmup_steps": 2, "budget_probe_steps": 3})
    net, info = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, cfg, ChildRun(None), tmp_path, seed=1)
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert info["compute"]["precision"] == ("bf16-mixed" if native else "32-true")
    plan = info["schedule_plan"]
    assert plan is not None and plan["steps"] >= 1 and plan["planned_seconds"] <= 0.2 * 60
    assert info["steps"] == info["planned_steps"] == plan["steps"] and info["schedule_completed"]
    assert next(net.parameters()).dtype == torch.float32


# ------------------------------------------------------------------------------------------- several devices
@pytest.mark.parametrize(("accelerator", "devices", "gpus", "fix"), [
    ("gpu", 8, 0, "face_models.hardware.accelerator=cpu,face_models.hardware.devices=1"),
    ("gpu", 8, 1, "face_models.hardware.devices=1"),
    ("cuda", [0, 3], 2, "face_models.hardware.devices=2"),
    ("auto", 8, 0, "face_models.hardware.devices=1`"),   # auto x 8: GPUs asked for; auto x 1: the CPU here
    ("gpu", -1, 0, "face_models.hardware.accelerator=cpu"),
])
def test_more_gpus_than_the_machine_has_are_refused_naming_the_setting(accelerator, devices, gpus, fix):
    with pytest.raises(ValueError) as caught:
        check_devices(accelerator, devices, "paper", gpus=gpus)
    message = str(caught.value)
    assert message.startswith(f"face_models.hardware.devices is {devices!r}") and f"found {gpus}" in message
    assert f"`kedro run --env paper --params {fix}" in message


@pytest.mark.parametrize(("accelerator", "devices", "gpus"), [
    ("gpu", 8, 8), ("gpu", [1, 2], 4), ("gpu", -1, 2), ("auto", 1, 0), ("auto", "auto", 0),
    ("cpu", 2, 0), ("cpu", 64, 8),
])
def test_what_the_machine_has_passes(accelerator, devices, gpus):
    check_devices(accelerator, devices, gpus=gpus)   # CPU processes: any number


def test_the_trainer_arguments_check_the_devices_before_any_training(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ValueError, match=r"face_models.hardware.devices is 8 .* found 0"):
        _trainer_kwargs(CFG.model_copy(update={"accelerator": "gpu", "devices": 8, "strategy": "ddp_spawn"}), ".")
    # one process in all: a plain fit, not a DDP wrapper spawned once; several keep their strategy
    assert _trainer_kwargs(CFG.model_copy(update={"devices": 1, "strategy": "ddp_spawn"}), ".")["strategy"] == "auto"
    assert _trainer_kwargs(CFG.model_copy(update={"devices": 2, "strategy": "ddp_spawn"}), ".")["strategy"] == \
        "ddp_spawn"


def test_plain_ddp_would_rerun_kedro_run_and_is_refused(tmp_path):
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, default_root_dir=tmp_path)
    with pytest.raises(ValueError, match="running `kedro run` again, which re-runs every node: use `ddp_spawn`"):
        refuse_relaunch(trainer)
    refuse_relaunch(pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                                default_root_dir=tmp_path))


def test_a_time_budget_with_several_processes_is_refused_when_the_run_starts():
    """conf/fast sizes its networks by time budgets; with 2 processes the run fails at parameter validation (the
    run's first step), naming every budget key and the override, not deep inside a probe fit."""
    raw = face_model_params("fast")
    raw["hardware"].update(accelerator="cpu", devices=2, strategy="ddp_spawn")
    with pytest.raises(ValidationError) as caught:
        FaceModelsParams.model_validate(raw)
    message = str(caught.value)
    keys = "face_models.frame_cnn.budget_minutes,face_models.frame_cnn.group_overrides.gender_age_group.budget_minutes"
    assert "needs face_models.hardware.devices: 1" in message and "devices is 2" in message
    assert f"`--params {keys.replace(',', '=null,')}=null`" in message
    raw["hardware"].update(devices=1, num_nodes=2)
    with pytest.raises(ValidationError, match="num_nodes 2"):
        FaceModelsParams.model_validate(raw)
    raw["hardware"].update(num_nodes=1)
    FaceModelsParams.model_validate(raw)


def test_train_frame_cnn_refuses_a_budget_with_several_processes_before_training(tmp_path):
    cfg = CFG.model_copy(update={"budget_minutes": 1.0, "devices": 2, "strategy": "ddp_spawn"})
    with pytest.raises(ValueError, match="face_models.frame_cnn.budget_minutes is|budget_minutes set a time budget"):
        train_frame_cnn("face_vgg_xs", HEADS, [], [], None, cfg, ChildRun(None), tmp_path, seed=1)
    assert not any(tmp_path.iterdir())
