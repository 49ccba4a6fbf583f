"""Training and evaluation of the frame CNNs and the two video branches (no Kedro here)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import (
    EarlyStopping,
    EMAWeightAveraging,
    ModelCheckpoint,
)
from torch.optim.swa_utils import get_ema_avg_fn
from torch.utils.data import DataLoader, TensorDataset

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.augment import BatchAugment
from hybrid_recommender.face_models.budget import (
    SchedulePlan,
    measure_speed,
    plan_schedule,
)
from hybrid_recommender.face_models.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_figure,
)
from hybrid_recommender.face_models.data import (
    FaceDataModule,
    FaceSet,
    Sequences,
    class_weights,
)
from hybrid_recommender.face_models.distributed import (
    FrameCNNModule,
    TrainingFacts,
    one_device_kwargs,
    refuse_relaunch,
    save_weights,
    spawned,
)
from hybrid_recommender.face_models.hardware import ComputeChoice, check_devices, choose_compute
from hybrid_recommender.face_models.metrics import (
    classification_metrics,
    confusion_figure,
    metric_row,
)
from hybrid_recommender.face_models.model import FaceAttributeModule, LSTMModule
from hybrid_recommender.face_models.networks import FrameCNN, SequenceLSTM
from hybrid_recommender.face_models.params import (
    FrameCNNSettings,
    LSTMSettings,
    SVMParams,
)
from hybrid_recommender.face_models.preprocessing import Preprocessing, eval_input
from hybrid_recommender.face_models.video import (
    aggregate,
    clip_sequences,
    fit_linear_svm,
    frame_features,
    full_decision,
    fuse,
    fusion_weights,
    linear_svc,
    lstm_sequence_probs,
    svm_probabilities,
)
from hybrid_recommender.face_models.video import (
    normalise as normalise_video,
)
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES, EMOTIONS
from hybrid_recommender.mlflow_runs import ChildRun

log = logging.getLogger(__name__)


def _trainer_kwargs(cfg: FrameCNNSettings | LSTMSettings, default_root_dir: str | Path, **more) -> dict:
    """Lightning Trainer arguments from ``cfg``: accelerator/devices (``auto`` picks a GPU where there is one),
    precision, the schedule's length and the run's habits; ``more`` adds or replaces arguments. A ``devices`` this
    machine cannot give fails here, before any training (:func:`.hardware.check_devices`)."""
    check_devices(cfg.accelerator, cfg.devices)
    # a DDP strategy on one process in all would only wrap the model (and spawn it): a plain fit does the same
    one = cfg.num_nodes == 1 and (cfg.devices == 1 or isinstance(cfg.devices, list) and len(cfg.devices) == 1)
    strategy = "auto" if one and str(cfg.strategy).startswith("ddp") else cfg.strategy
    return dict(
        accelerator=cfg.accelerator, devices=cfg.devices, strategy=strategy, num_nodes=cfg.num_nodes,
        precision=cfg.precision, deterministic=cfg.deterministic,
        max_epochs=cfg.max_epochs, log_every_n_steps=cfg.log_every_n_steps, num_sanity_val_steps=0,
        enable_progress_bar=cfg.progress_bar, enable_model_summary=False, default_root_dir=str(default_root_dir),
    ) | more


def _frame_cnn_trainer_kwargs(cfg: FrameCNNSettings, default_root_dir: str | Path, precision: str) -> dict:
    """The frame CNN's Trainer arguments: its step, time and batch limits, clipping, and the chosen precision."""
    return _trainer_kwargs(cfg, default_root_dir, precision=precision, max_steps=cfg.max_steps or -1,
                           max_time=cfg.max_time, limit_train_batches=cfg.limit_train_batches or 1.0,
                           limit_val_batches=cfg.limit_val_batches or 1.0, gradient_clip_val=cfg.gradient_clip_val)


# ------------------------------------------------------------------------------------------- frame CNN
class EMAAfterWarmup(EMAWeightAveraging):
    """Lightning's EMA of the weights, starting after ``start_fraction`` of the run's optimiser steps (so early
    random weights do not linger in it, however long the schedule turns out); before its first update the stock
    callback validates, and ends training with, the untouched initial copy: this one uses the current weights."""

    def __init__(self, decay: float, start_fraction: float):
        super().__init__(decay=decay)
        self.decay, self.start_fraction = float(decay), float(start_fraction)

    def __getstate__(self):   # spawned processes get a pickled copy: the averaging function is a closure, rebuilt
        state = self.__dict__.copy()
        state["_kwargs"] = {k: v for k, v in self._kwargs.items() if k != "avg_fn"}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._kwargs["avg_fn"] = get_ema_avg_fn(decay=self.decay)

    def on_train_start(self, trainer, pl_module):
        self.update_starting_at_step = int(round(self.start_fraction * trainer.estimated_stepping_batches))
        super().on_train_start(trainer, pl_module)

    def _averaging(self) -> bool:
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer, pl_module):
        self._swapped = self._averaging()
        if self._swapped:
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module):
        if getattr(self, "_swapped", False):
            super().on_validation_epoch_end(trainer, pl_module)
        self._swapped = False

    def on_train_end(self, trainer, pl_module):
        if self._averaging():
            super().on_train_end(trainer, pl_module)


def train_frame_cnn(backbone: str, heads: Heads, train_sets: Sequence[FaceSet], val_sets: Sequence[FaceSet],
                    prep: Preprocessing, cfg: FrameCNNSettings | Mapping, run: ChildRun, workdir: str | Path,
                    seed: int, callbacks: Sequence[pl.Callback] = (), init_backbone: Mapping | None = None,
                    compute: ComputeChoice | None = None, age_edges: Sequence[int] = DEFAULT_AGE_BIN_EDGES
                    ) -> tuple[FrameCNN, dict]:
    """Train one frame CNN on the mixed data sets; returns the trained network (the EMA of its weights when
    ``ema_decay`` is set, else the best-validation-loss checkpoint) and facts of the run.

    ``init_backbone``: a backbone state dict to start from (another network's, e.g. the emotion model's).
    ``compute``: the precision and memory format (default: chosen from this machine for ``cfg``'s settings).
    With ``budget_minutes`` set, the schedule is sized from this machine's measured speed (:mod:`.budget`).
    ``cfg``: :meth:`FaceModelsParams.frame_cnn_for`'s settings, or a plain dict of them (validated here).
    ``age_edges``: the age groups' edges, for an age head that learns years (``cfg.age_head``).
    With ``cfg.calibrate``, each head's temperature is then fitted on the validation faces.

    Several processes (``devices``/``num_nodes`` above 1, a spawn-based ``strategy``: docs/face_models.md "Several
    GPUs or machines") train only the fit: ``batch_size`` is per process, each process validates its share of the
    faces (losses averaged over them), and everything after the fit runs here, in this process, on rank 0's weights
    (the EMA's, or the best checkpoint's, as on one process). ``info`` says how many processes trained."""
    started = time.perf_counter()
    cfg = cfg if isinstance(cfg, FrameCNNSettings) else FrameCNNSettings.model_validate(cfg)
    cfg.require_one_process_for({"face_models.frame_cnn.budget_minutes": cfg.budget_minutes})
    compute = compute or choose_compute(cfg.precision, cfg.channels_last, cfg.accelerator)
    log.info("face_models: %s trains in %s, channels_last=%s (%s)", backbone, compute.precision,
             compute.channels_last, compute.reason)
    pl.seed_everything(seed, workers=True)
    weights = {h: class_weights([s.labels[h] for s in train_sets], len(c), cfg.class_weight_power).tolist()
               for h, c in heads.items()}
    module = FrameCNNModule(
        backbone, heads, pretrained=bool(cfg.pretrained), dropout=cfg.dropout, optimizer=cfg.optimizer,
        lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
        label_smoothing=cfg.label_smoothing, class_weights=weights, head_weights=cfg.head_weights,
        schedule=cfg.schedule, warmup_fraction=cfg.warmup_fraction, channels_last=compute.channels_last,
        age_years=age_years(cfg, age_edges) if "age_group" in heads else None,
        age_loss={"sigma": cfg.age_head.sigma, "l1_weight": cfg.age_head.l1_weight})
    if init_backbone is not None:
        module.net.backbone.load_state_dict(init_backbone)
    augment = BatchAugment(**cfg.augment.model_dump())   # camera effects (a mapping) first, when configured
    data = FaceDataModule(train_sets, val_sets, prep, heads, cfg.batch_size, augment, seed)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kwargs = _frame_cnn_trainer_kwargs(cfg, workdir, compute.precision)
    ema = EMAAfterWarmup(cfg.ema_decay, cfg.ema_start_fraction) if cfg.ema_decay else None
    plan = None
    if cfg.budget_minutes:   # the probe trains with the run's own per-step work (its EMA, its progress bar)
        plan = _budget_plan(module, data, kwargs, cfg, started, [ema] if ema else [])
        kwargs.update(max_epochs=plan.epochs, limit_train_batches=plan.batches_per_epoch, max_steps=-1)
        pl.seed_everything(seed, workers=True)   # the probe drew random numbers: the run starts from the seed
    callbacks = [*callbacks, TrainingFacts()]
    ckpt = None
    if ema is not None:
        callbacks.append(ema)
    elif data.val_sets:
        ckpt = ModelCheckpoint(dirpath=workdir / "checkpoints", filename=f"{backbone}-best", monitor="val/loss",
                               mode="min", save_top_k=1, enable_version_counter=False)
        callbacks.append(ckpt)
    if cfg.early_stopping_patience and data.val_sets:
        callbacks.append(EarlyStopping(monitor="val/loss", mode="min", patience=cfg.early_stopping_patience,
                                       strict=False))
    run.log_params({"backbone": backbone, "seed": seed, "initialised_from_another_network": init_backbone is not None, "preprocessing": prep.to_dict(),
                    "train_faces": {s.name: len(s) for s in train_sets}, "class_weights": weights, **cfg.model_dump(),
                    # what ran, not what was asked (``auto``): the module's own hyperparameters say the same
                    "precision": compute.precision, "channels_last": compute.channels_last,
                    "requested_precision": cfg.precision, "compute": compute.to_dict(),
                    "schedule_plan": plan.to_dict() if plan else None})
    trainer = pl.Trainer(**kwargs, logger=run.lightning_logger(), callbacks=callbacks,
                         enable_checkpointing=ckpt is not None)
    refuse_relaunch(trainer)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    fit_seconds = time.perf_counter() - start
    was_spawned, facts = spawned(trainer), TrainingFacts.read(trainer)
    if data.val_sets and "val/loss" not in trainer.callback_metrics:   # a step limit ended training unvalidated
        # after a spawn, this Trainer would spawn again: one process validates (the weights are all here)
        validator = pl.Trainer(**one_device_kwargs(kwargs), logger=run.lightning_logger(), enable_checkpointing=False) \
            if was_spawned else trainer
        validator.validate(module, datamodule=data, verbose=False)
    if ckpt is not None and ckpt.best_model_path and Path(ckpt.best_model_path).exists():
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    final = workdir / "checkpoints" / f"{backbone}-final.ckpt"
    if was_spawned:   # the Trainer's strategy has no process group here: write the weights as Lightning would
        save_weights(module, final, facts)
    else:
        trainer.save_checkpoint(final, weights_only=True)
    run.log_artifact(final, "checkpoint")
    net = module.net.float().to("cpu", memory_format=torch.contiguous_format).eval()
    temperatures = calibrate_heads(net, val_sets, prep) if cfg.calibrate and data.val_sets else {}
    if temperatures:
        run.log_params({"temperatures": temperatures})
    steps = facts.get("steps", trainer.global_step)
    planned_steps = plan.steps if plan else facts.get("planned_steps") or int(trainer.estimated_stepping_batches)
    processes = {"world_size": facts.get("world_size", trainer.world_size),
                 "training_processes": facts.get("processes", 1),
                 "trained_in_this_process": facts.get("rank_zero_pid") == os.getpid(),
                 "threads_per_process": facts.get("threads_per_process", torch.get_num_threads()),
                 "strategy_used": str(kwargs["strategy"])}   # ddp_spawn on one device runs as auto
    run.log_params(processes)   # what ran: the settings logged above say what was asked
    info = {"fit_seconds": fit_seconds, "seconds_with_probe": time.perf_counter() - started,
            "epochs": facts.get("epochs", trainer.current_epoch), "steps": steps, "planned_steps": planned_steps,
            "schedule_completed": steps >= planned_steps, "compute": compute.to_dict(),
            "schedule_plan": plan.to_dict() if plan else None,
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "class_weights": weights, "train_faces": int(sum(len(s) for s in train_sets)),
            "temperatures": temperatures, **processes}
    if not info["schedule_completed"]:
        log.warning("face_models: %s stopped after %d of its %d planned steps (max_time or early stopping)",
                    backbone, steps, planned_steps)
    run.log_metrics({"fit_seconds": fit_seconds, "trained_steps": steps,
                     "planned_steps": planned_steps, "seconds_with_probe": info["seconds_with_probe"]})
    return net, info


def age_years(cfg: FrameCNNSettings, edges: Sequence[int]) -> dict | None:
    """The age head's years and group edges when it learns exact ages (``age_head.target: years``)."""
    return {"max_age": cfg.age_head.max_age, "edges": list(edges)} if cfg.age_head.target == "years" else None


@torch.inference_mode()
def head_logits(net: FrameCNN, sets: Sequence[FaceSet], prep: Preprocessing, batch_size: int = 512
                ) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Uncalibrated centre-crop logits of every head on ``sets``, and their labels (with ``age`` in years)."""
    net.eval()
    images = torch.cat([s.images for s in sets])
    logits = {h: [] for h in net.heads}
    for i in range(0, len(images), batch_size):
        out = net(eval_input(images[i:i + batch_size], prep))
        for h, v in out.items():
            logits[h].append(v.float())
    keys = {k for s in sets for k in s.labels}
    labels = {k: np.concatenate([s.labels[k] for s in sets]) for k in keys if all(k in s.labels for s in sets)}
    return {h: torch.cat(v) for h, v in logits.items()}, labels


def calibrate_heads(net: FrameCNN, val_sets: Sequence[FaceSet], prep: Preprocessing) -> dict[str, float]:
    """One temperature per head, fitted on the validation faces (never on test) and set in ``net``. The age
    head's temperature makes its group probabilities calibrated (what thresholds and the group choice read)."""
    sets = [s for s in val_sets if len(s)]
    if not sets:
        return {}
    logits, labels = head_logits(net, sets, prep)
    temperatures = {}
    for head, z in logits.items():
        if head == "age":
            t = fit_temperature(z, labels["age_group"], group_matrix=net.age_membership)
        else:
            t = fit_temperature(z, labels[head])
        net.set_temperature(head, t)
        temperatures[head] = round(float(t), 4)
    log.info("face_models: temperatures fitted on the validation faces: %s", temperatures)
    return temperatures


@contextmanager
def uncalibrated(net: FrameCNN):
    """``net`` with every temperature at 1 for the duration (what the heads said before calibration)."""
    saved = {h: float(net.temperature(h)) for h in net.heads}
    try:
        for h in saved:
            net.set_temperature(h, 1.0)
        yield net
    finally:
        for h, t in saved.items():
            net.set_temperature(h, t)


def calibration_report(model_name: str, net: FrameCNN, eval_sets: Sequence[tuple[str, str, str, FaceSet]],
                       prep: Preprocessing) -> tuple[pd.DataFrame, dict]:
    """ECE of each head before and after calibration on every evaluated split (centre crop), and a reliability
    diagram per head on each test split (UTKFace in its MTCNN framing, as inference sees it)."""
    rows, figures = [], {}
    for dataset, split, framing, faces in eval_sets:
        if len(faces) == 0 or (dataset == "utkface" and framing != "mtcnn"):
            continue
        after = predict_heads(net, faces.images, prep)
        with uncalibrated(net):
            before = predict_heads(net, faces.images, prep)
        for head in net.classes:
            labels = faces.labels[head]
            if not (labels >= 0).any():
                continue
            ece = (expected_calibration_error(before[head], labels), expected_calibration_error(after[head], labels))
            rows.append({"model": model_name, "dataset": dataset, "split": split, "attribute": head,
                         "n": int((labels >= 0).sum()), "ece_uncalibrated": ece[0], "ece": ece[1],
                         "temperature": float(net.temperature("age" if head == "age_group" and net.age else head))})
            if split == "test":
                figures[f"{model_name}__{dataset}__{split}__{head}__reliability.png"] = reliability_figure(
                    (before[head], labels), (after[head], labels),
                    f"{model_name} {dataset}/{split} {head}: reliability before and after calibration")
    return pd.DataFrame(rows), figures


def _budget_plan(module: FaceAttributeModule, data: FaceDataModule, kwargs: dict, cfg: FrameCNNSettings,
                 started: float, callbacks: Sequence[pl.Callback]) -> SchedulePlan:
    """Measure this machine's speed on the run's own data and settings, and plan a schedule for the budget."""
    log.info("face_models: timing %d training steps on this machine to size the schedule",
             cfg.budget_warmup_steps + cfg.budget_probe_steps)
    speed = measure_speed(module, data, kwargs, cfg.budget_warmup_steps, cfg.budget_probe_steps,
                          validation_batches=2 if data.val_sets else 0, callbacks=callbacks)
    steps_per_epoch = len(data.train_dataloader())
    val_batches = len(data.val_dataloader()) if data.val_sets else 0
    limit_val = cfg.limit_val_batches
    if limit_val:
        val_batches = min(val_batches, int(limit_val) if limit_val >= 1 else math.ceil(val_batches * limit_val))
    plan = plan_schedule(cfg.budget_minutes * 60.0, time.perf_counter() - started, speed.step_seconds,
                         val_batches * speed.validation_batch_seconds, steps_per_epoch, cfg.max_epochs,
                         cfg.budget_margin)
    log.info("face_models: %.2f s a step, %.1f s a validation: %d epoch(s) of %d of %d batches = %d steps, "
             "%.1f of %.1f budgeted minutes", plan.step_seconds, plan.validation_seconds, plan.epochs,
             plan.batches_per_epoch, steps_per_epoch, plan.steps, plan.planned_seconds / 60, cfg.budget_minutes)
    return plan


@torch.inference_mode()
def predict_heads(net: FrameCNN, images: torch.Tensor, prep: Preprocessing, ten_crop: bool = False,
                  batch_size: int = 512) -> dict[str, np.ndarray]:
    """Class probabilities of each head for uint8 (N, 1, S, S) faces; ten-crop averages the softmax of 10 crops.
    An age head over years adds ``age`` (N, years) and ``age_expected`` (N,)."""
    net.eval()
    outs = {h: [] for h in net.classes}
    for i in range(0, len(images), batch_size):
        probs, _ = net.probabilities(images[i:i + batch_size], prep, ten_crop)
        for h, p in probs.items():
            outs.setdefault(h, []).append(p)
    return {h: (torch.cat(v).numpy() if v else np.zeros((0, len(net.classes[h])), np.float32))
            for h, v in outs.items()}


def evaluate_frame_cnn(model_name: str, net: FrameCNN, eval_sets: Sequence[tuple[str, str, str, FaceSet]],
                       prep: Preprocessing, ten_crop_options: Sequence[bool], age_groups: Sequence[str] = (),
                       viewer_age_groups: Sequence[str] = ()) -> tuple[list[dict], dict]:
    """Metrics rows and confusion-matrix figures per (data set, split, framing, crop mode) and attribute.

    ``eval_sets`` holds (dataset, split, framing, faces); an attribute is reported where the set labels it.
    Where a set also labels ages (coded by ``age_groups``), every other head gets its accuracy per age group
    (``accuracy_age_<group>``) and over the viewers' age groups (``accuracy_viewer_ages``: the paper's 8-47).
    """
    rows, figures = [], {}
    for dataset, split, framing, faces in eval_sets:
        if len(faces) == 0:
            continue
        for tc in ten_crop_options:
            probs = predict_heads(net, faces.images, prep, ten_crop=tc)
            variant = f"{framing}/{'ten_crop' if tc else 'centre_crop'}"
            for head, classes in net.classes.items():
                labels = faces.labels[head]
                if not (labels >= 0).any():
                    continue
                m = classification_metrics(probs[head], labels, classes)
                rows.append(metric_row(model_name, dataset, split, head, variant, m, classes))
                rows[-1]["ece"] = expected_calibration_error(probs[head], labels)
                if head != "age_group" and age_groups:
                    rows[-1].update(accuracy_by_age_group(probs[head], labels, faces.labels.get("age_group"),
                                                          age_groups, viewer_age_groups))
                if head == "age_group" and "age" in faces.labels:
                    rows[-1].update(age_metrics(probs, faces.labels["age"], labels, age_groups, viewer_age_groups))
                key = f"{model_name}__{dataset}__{split}__{head}__{framing}__{'tencrop' if tc else 'centre'}.png"
                figures[key] = confusion_figure(m["confusion"], classes,
                                                f"{model_name} {dataset}/{split} {head} ({variant}) acc={m['accuracy']:.3f}")
    return rows, figures


CHILD_GROUPS = ("0-7", "8-14")   # the groups that get children's films
ADULT_AGE = 25                   # "adults read as children": true age >= 25, read into a child group


def age_metrics(probs: Mapping[str, np.ndarray], ages: np.ndarray, group_codes: np.ndarray,
                age_groups: Sequence[str], viewer_age_groups: Sequence[str]) -> dict[str, float]:
    """The age head in years and as a guard: MAE of the expected age (all faces, the viewers' groups, and each
    group), group accuracy over the viewers' groups (the paper's four, the group chosen among all groups), and the share of
    adults (25+) read into a child group (0-7, 8-14). MAE is NaN for a group-only head (no expected age)."""
    ages = np.asarray(ages, np.float64)
    known = ages >= 0
    viewers = known & np.isin(group_codes, [age_groups.index(g) for g in viewer_age_groups])
    chosen = np.asarray(probs["age_group"]).argmax(1)
    child = np.isin(chosen, [age_groups.index(g) for g in CHILD_GROUPS if g in age_groups])
    adults = known & (ages >= ADULT_AGE)
    out = {"accuracy_viewer_ages": float((chosen[viewers] == group_codes[viewers]).mean()) if viewers.any() else np.nan,
           "n_viewer_ages": int(viewers.sum()),
           "adults_as_children": float(child[adults].mean()) if adults.any() else np.nan}
    expected = probs.get("age_expected")
    if expected is not None:
        err = np.abs(np.asarray(expected, np.float64) - ages)
        out["mae_years"] = float(err[known].mean()) if known.any() else np.nan
        out["mae_years_viewer_ages"] = float(err[viewers].mean()) if viewers.any() else np.nan
        for code, group in enumerate(age_groups):   # beside each group's recall (``recall_<group>``)
            mask = known & (group_codes == code)
            out[f"mae_years_{group}"] = float(err[mask].mean()) if mask.any() else np.nan
    return out


def accuracy_by_age_group(probabilities: np.ndarray, labels: np.ndarray, ages: np.ndarray | None,
                          age_groups: Sequence[str], viewer_age_groups: Sequence[str]) -> dict[str, float]:
    """A head's accuracy within each age group and over the viewers' groups (faces labelled with both)."""
    if ages is None:
        return {}
    right = np.asarray(probabilities).argmax(1) == labels
    known = (labels >= 0) & (ages >= 0)
    if not known.any():
        return {}
    out = {}
    for code, group in enumerate(age_groups):
        mask = known & (ages == code)
        out[f"accuracy_age_{group}"] = float(right[mask].mean()) if mask.any() else float("nan")
    viewers = known & np.isin(ages, [age_groups.index(g) for g in viewer_age_groups])
    out["accuracy_viewer_ages"] = float(right[viewers].mean()) if viewers.any() else float("nan")
    out["n_viewer_ages"] = int(viewers.sum())
    return out


# ------------------------------------------------------------------------------------------- sequences
def _mirror(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=[-1])


def _zoom(x: torch.Tensor, scale: float) -> torch.Tensor:
    s = x.shape[-1]
    c = max(8, int(round(s * scale)))
    off = (s - c) // 2
    crop = x[..., off:off + c, off:off + c].float()
    return F.interpolate(crop, size=(s, s), mode="bilinear", align_corners=False, antialias=True).round().to(torch.uint8)


AUGMENTATIONS = {"original": lambda x: x, "mirror": _mirror, "zoom_in": lambda x: _zoom(x, 0.88),
                 "mirror_zoom_in": lambda x: _zoom(_mirror(x), 0.88)}


def sequence_features(net: FrameCNN, sequences: Sequences, prep: Preprocessing,
                      variants: Sequence[str] = ("original",)) -> dict[str, list[np.ndarray]]:
    """Per-frame penultimate features of every sequence, for the original frames and augmented copies
    (mirror, multi-scale zoom): variant -> list of (T, D) arrays."""
    if not len(sequences):
        return {v: [] for v in variants}
    lengths = [len(f) for f in sequences.frames]
    all_frames = torch.cat(sequences.frames)
    out = {}
    for v in variants:
        feats = frame_features(net, AUGMENTATIONS[v](all_frames), prep)
        out[v] = np.split(feats, np.cumsum(lengths)[:-1])
    return out


def split_masks(table) -> dict[str, np.ndarray]:
    """The sequences of each split (train, val, test) as boolean masks over ``table``'s rows."""
    return {s: (table["split"] == s).to_numpy() for s in ("train", "val", "test")}


def _cv_folds(table, n_folds: int) -> list[int]:
    folds = sorted(int(f) for f in table["fold"].unique() if f >= 0)
    return folds if n_folds and len(folds) >= 2 else []


def train_svm_members(features: Mapping[str, Mapping[str, list[np.ndarray]]], sequences: Sequences, cfg: SVMParams,
                      seed: int = 0) -> dict[str, dict]:
    """CNN branch: a LinearSVC per (frame model, normalisation) on [mean, max, std] video features, C by 5-fold
    subject-grouped cross-validation on the training sequences; then out-of-fold predictions over the
    subject-independent ``fold`` column."""
    table = sequences.table
    y = table["label"].to_numpy()
    groups = table["subject"].to_numpy()
    masks = split_masks(table)
    members = {}
    for model_name, by_variant in features.items():
        variants = [v for v in cfg.train_variants if v in by_variant]
        agg = {v: np.stack([aggregate(f) for f in by_variant[v]]) for v in by_variant}
        for norm in cfg.normalisations:
            X = {v: normalise_video(a, norm) for v, a in agg.items()}

            def fit(train_mask, C=None):
                Xt = np.concatenate([X[v][train_mask] for v in variants])
                yt = np.concatenate([y[train_mask]] * len(variants))
                gt = np.concatenate([groups[train_mask]] * len(variants))
                if C is None:
                    return fit_linear_svm(Xt, yt, gt, cfg.Cs, cfg.cv, seed)
                return linear_svc(seed, C).fit(Xt, yt), None

            name = f"svm_{model_name}_{norm}"
            log.info("face_models: %s: choosing C from %s by %d-fold cross-validation", name, cfg.Cs, cfg.cv)
            svm, search = fit(masks["train"])
            C = float(search.best_params_["C"])
            probs = svm_probabilities(full_decision(svm, X["original"], len(EMOTIONS)))
            oof = np.full_like(probs, np.nan)
            folds = _cv_folds(table, cfg.cv_folds)
            for i, f in enumerate(folds, 1):
                log.info("face_models: %s: subject fold %d/%d", name, i, len(folds))
                test = (table["fold"] == f).to_numpy()
                fold_svm, _ = fit(~test, C)
                oof[test] = svm_probabilities(full_decision(fold_svm, X["original"][test], len(EMOTIONS)))
            members[name] = {
                "kind": "svm", "frame_model": model_name, "normalisation": norm, "C": C,
                "cv_scores": {str(c): float(s) for c, s in zip(search.cv_results_["param_C"],
                                                             search.cv_results_["mean_test_score"])},
                "coef": np.asarray(svm.coef_, np.float32) if svm.coef_.shape[0] > 1 else
                        np.concatenate([-svm.coef_, svm.coef_]).astype(np.float32),
                "intercept": np.asarray(svm.intercept_, np.float32) if svm.intercept_.shape[0] > 1 else
                             np.concatenate([-svm.intercept_, svm.intercept_]).astype(np.float32),
                "classes": np.asarray(svm.classes_, np.int64),
                "probs": probs, "oof": oof,
            }
    return members


def fit_lstm(features: Mapping[str, list[np.ndarray]], y: np.ndarray, train_mask: np.ndarray,
             val_mask: np.ndarray | None, hidden: int, cfg: LSTMSettings, run: ChildRun | None, workdir: Path,
             seed: int = 0) -> SequenceLSTM:
    """Train one LSTM on the training sequences' clips (all augmented variants), validate on val clips; on one device
    whatever ``devices`` says (a few hundred clips train in less time than processes take to spawn)."""
    pl.seed_everything(seed, workers=True)
    length, stride, pad = cfg.clip_length, cfg.clip_stride, cfg.pad
    idx = np.flatnonzero(train_mask)
    xs, ys = [], []
    for v in [v for v in cfg.train_variants if v in features]:
        c, owner = clip_sequences([features[v][i] for i in idx], length, stride, pad)
        xs.append(c)
        ys.append(y[idx][owner])
    X, Y = np.concatenate(xs), np.concatenate(ys)
    w = class_weights([Y], len(EMOTIONS), cfg.class_weight_power).tolist()
    module = LSTMModule(X.shape[-1], hidden, len(EMOTIONS), cfg.dropout, cfg.lr, cfg.weight_decay, w)
    train_dl = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=cfg.batch_size,
                          shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_dl = None
    if val_mask is not None and val_mask.any():
        vidx = np.flatnonzero(val_mask)
        vc, vo = clip_sequences([features["original"][i] for i in vidx], length, stride, pad)
        val_dl = DataLoader(TensorDataset(torch.from_numpy(vc), torch.from_numpy(y[vidx][vo])), batch_size=256)
    if run is not None:
        run.log_params({"hidden": hidden, "seed": seed, "train_clips": len(X), **cfg.model_dump()})
    trainer = pl.Trainer(**one_device_kwargs(_trainer_kwargs(cfg, workdir)),
                         logger=run.lightning_logger() if run is not None else False,
                         enable_checkpointing=False)
    trainer.fit(module, train_dl, val_dl)
    return module.net.eval()


def train_lstm_members(features: Mapping[str, Mapping[str, list[np.ndarray]]], sequences: Sequences,
                       cfg: LSTMSettings,
                       run_factory, workdir: Path, seed: int = 0) -> dict[str, dict]:
    """LSTM branch: one LSTM per (frame model, hidden size); split-trained member plus out-of-fold CV predictions."""
    table = sequences.table
    y = table["label"].to_numpy()
    masks = split_masks(table)
    length, stride, pad = cfg.clip_length, cfg.clip_stride, cfg.pad
    members = {}
    for model_name, by_variant in features.items():
        for hidden in cfg.hidden_sizes:
            name = f"lstm{hidden}_{model_name}"
            with run_factory(name) as run:
                net = fit_lstm(by_variant, y, masks["train"], masks["val"], hidden, cfg, run, workdir / name, seed)
                probs = lstm_sequence_probs(net, by_variant["original"], length, stride, pad)
                oof = np.full_like(probs, np.nan)
                cv_cfg = cfg.model_copy(update={"max_epochs": cfg.cv_max_epochs, "progress_bar": False})
                folds = _cv_folds(table, cfg.cv_folds)
                for i, f in enumerate(folds, 1):
                    log.info("face_models: %s: subject fold %d/%d", name, i, len(folds))
                    test = (table["fold"] == f).to_numpy()
                    fold_net = fit_lstm(by_variant, y, ~test, None, hidden, cv_cfg, None, workdir / f"{name}_cv", seed)
                    test_feats = [by_variant["original"][i] for i in np.flatnonzero(test)]
                    oof[test] = lstm_sequence_probs(fold_net, test_feats, length, stride, pad)
                members[name] = {"kind": "lstm", "frame_model": model_name, "hidden": int(hidden), "net": net,
                                 "in_fusion": int(hidden) == int(cfg.fusion_hidden),
                                 "probs": probs, "oof": oof, "run": run}
    return members


def _accuracy(probs: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    ok = mask & ~np.isnan(probs).any(1)
    return float((probs[ok].argmax(1) == y[ok]).mean()) if ok.any() else float("nan")


def fuse_video_branches(svm_members: Mapping[str, dict], lstm_members: Mapping[str, dict], sequences: Sequences
                        ) -> tuple[dict, dict[str, dict]]:
    """Two-level fusion weighted by validation accuracy: SVMs -> CNN branch, LSTMs -> LSTM branch, branches -> fused.

    Returns the fusion spec (weights and their validation accuracies) and every member's/branch's probabilities
    (``probs`` on the split protocol, ``oof`` on the subject-independent folds).
    """
    table = sequences.table
    y = table["label"].to_numpy()
    val = split_masks(table)["val"]
    has_val = bool(val.any())

    def level(members):
        acc = {k: (_accuracy(m["probs"], y, val) if has_val else 1.0) for k, m in members.items()}
        acc = {k: (0.0 if np.isnan(a) else a) for k, a in acc.items()}
        w = fusion_weights(acc) if members else {}
        return acc, w, {"probs": fuse({k: m["probs"] for k, m in members.items()}, w) if members else None,
                        "oof": fuse({k: m["oof"] for k, m in members.items()}, w) if members else None}

    svm_acc, svm_w, cnn = level(svm_members)
    lstm_in = {k: m for k, m in lstm_members.items() if m.get("in_fusion", True)}
    lstm_acc, lstm_w, lstm = level(lstm_in)
    branches = {k: v for k, v in (("cnn_branch", cnn), ("lstm_branch", lstm)) if v["probs"] is not None}
    branch_acc, branch_w, fused = level(branches)
    spec = {"svm_weights": svm_w, "svm_val_accuracy": svm_acc, "lstm_weights": lstm_w, "lstm_val_accuracy": lstm_acc,
            "branch_weights": branch_w, "branch_val_accuracy": branch_acc}
    outputs = {**{k: {"probs": m["probs"], "oof": m["oof"]} for k, m in {**svm_members, **lstm_members}.items()},
               **branches, "fused": fused}
    return spec, outputs


def evaluate_video(outputs: Mapping[str, dict], sequences: Sequences) -> tuple[list[dict], dict]:
    """Metrics and confusion matrices of each member, branch and the fused model: per split, and out-of-fold."""
    table = sequences.table
    y = table["label"].to_numpy()
    rows, figures = [], {}
    for name, out in outputs.items():
        for protocol in ("probs", "oof"):
            p = out[protocol]
            if p is None:
                continue
            groups = ([("val", split_masks(table)["val"]), ("test", split_masks(table)["test"])] if protocol == "probs"
                      else [("subject_kfold", ~np.isnan(p).any(1))])
            for dataset in sorted(table["dataset"].unique()):
                in_ds = (table["dataset"] == dataset).to_numpy()
                for split, mask in groups:
                    mask = mask & in_ds
                    if not mask.any():
                        continue
                    m = classification_metrics(p[mask], y[mask], EMOTIONS)
                    rows.append(metric_row(name, dataset, split, "emotion", "sequence", m, EMOTIONS))
                    figures[f"video__{name}__{dataset}__{split}.png"] = confusion_figure(
                        m["confusion"], EMOTIONS, f"{name} {dataset}/{split} acc={m['accuracy']:.3f}")
    return rows, figures
