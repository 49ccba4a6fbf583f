"""The ``face_models`` parameters as typed settings: built once where a node starts, each part handed down once.

Every model forbids unknown keys (a misspelt key in ``conf/<env>/parameters_face_models.yml`` is an error naming
it) and bounds the values that have a range. The YAML stays the one home of every value: no field has a default.
A run's parameter-validation hook validates ``params["face_models"]`` with :class:`FaceModelsParams` when it starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.types import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from hybrid_recommender.param_types import Fraction, Section
from hybrid_recommender.paths import PROJECT_ROOT

Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
Head = Literal["emotion", "gender", "age_group"]
Dataset = Literal["fer2013", "utkface", "ckplus", "rafdb"]
Split = Literal["train", "val", "test"]
Variant = Literal["original", "mirror", "zoom_in", "mirror_zoom_in"]   # training.AUGMENTATIONS
# Lightning's precision values, and ``auto``: chosen from the hardware (face_models.hardware)
Precision = Literal["auto", "64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "32", "16",
                    "bf16"]
MaxTime = Annotated[str, Field(pattern=r"^\d{2}:\d{2}:\d{2}:\d{2}$")]    # Lightning's "DD:HH:MM:SS"
# a Lightning batch limit: a count of batches, or a fraction of the epoch's
BatchLimit = PositiveInt | Annotated[float, Field(gt=0.0, le=1.0)] | None


MERGED = "merged"   # validation context: a group's merged settings (its overrides already checked)


def asked_devices(devices: int | str | list[int]) -> tuple[int, int]:
    """(how many devices, the highest index named + 1) of Lightning's ``devices``; ``auto`` and -1 (every one of
    them, however many there are): (0, 0)."""
    if isinstance(devices, list):
        return len(devices), (max(devices) + 1 if devices else 0)
    if devices in ("auto", -1):
        return 0, 0
    return int(devices), int(devices)


class HardwareParams(Section):
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"]
    devices: Literal["auto"] | Annotated[int, Field(ge=-1)] | list[NonNegativeInt]
    strategy: str                 # Lightning's: auto, ddp_spawn, ...; `ddp` under `kedro run` is refused (training)
    num_nodes: PositiveInt
    deterministic: bool | Literal["warn"]

    @property
    def distributed(self) -> bool:
        """Whether Lightning may start more than one training process (``devices: auto`` or -1 may be every GPU;
        ``auto`` on the CPU is one process)."""
        count = 1 if self.accelerator == "cpu" and self.devices == "auto" else asked_devices(self.devices)[0]
        return self.num_nodes > 1 or count != 1

    def require_one_process_for(self, budgets: dict[str, float | None]) -> None:
        """A time budget is planned from a speed probe of one process: refuse every budget set (``budgets``: the
        setting's full key -> its value) where training runs in several processes, naming the keys."""
        keys = [k for k, v in budgets.items() if v]
        if keys and self.distributed:
            raise ValueError(
                f"{', '.join(keys)} set a time budget, which is planned from a one-process speed probe and needs "
                f"face_models.hardware.devices: 1 and num_nodes: 1; here devices is {self.devices!r}, num_nodes "
                f"{self.num_nodes}, strategy {self.strategy!r}. Size the schedule by max_epochs instead: "
                f"`--params {','.join(f'{k}=null' for k in keys)}`, or train on one device.")


class PreprocessingParams(Section):
    image_size: PositiveInt
    crop_size: PositiveInt
    mean: float
    std: PositiveFloat

    @model_validator(mode="after")
    def _crop_fits(self) -> PreprocessingParams:
        if self.crop_size > self.image_size:
            raise ValueError(f"crop_size {self.crop_size} must not exceed image_size {self.image_size}")
        return self


class FramingParams(Section):
    reframe: bool
    image_size: PositiveInt
    margin: NonNegativeInt
    thresholds: tuple[Fraction, Fraction, Fraction]
    batch_size: PositiveInt


class CameraParams(Section):
    """Webcam and phone effects (face_models.camera.CameraAugment), each drawn per face with probability ``p``."""

    p: Fraction
    brightness: Probability
    contrast: Probability
    blur_sigma: NonNegativeFloat
    jpeg_quality: tuple[Annotated[int, Field(ge=1, le=100)], Annotated[int, Field(ge=1, le=100)]]
    low_res_side: tuple[PositiveInt, PositiveInt]


class AugmentParams(Section):
    rotation: NonNegativeFloat
    scale: Probability
    shift: Probability
    flip: bool
    erase_p: Fraction
    erase_area: tuple[Fraction, Fraction]
    camera: CameraParams | None


class AgeHeadParams(Section):
    """How the age head learns: ``years`` = a distribution over exact ages (DLDL-v2), groups summed from it;
    ``groups`` = a classifier over the configured groups (the earlier model)."""

    target: Literal["years", "groups"]
    max_age: Annotated[int, Field(ge=50, le=120)]
    sigma: PositiveFloat          # the label distribution's width, years
    l1_weight: NonNegativeFloat   # weight of the expectation's L1 error (years) beside the distribution's loss


class FrameCNNParams(Section):
    backbones: Annotated[list[str], Field(min_length=1)]
    head_groups: Annotated[list[Annotated[list[Head], Field(min_length=1)]], Field(min_length=1)]
    group_overrides: dict[str, dict[str, Any]]   # group -> training keys of this section; checked per group below
    init_from: str | None
    pretrained: bool
    train_datasets: dict[Dataset, list[Split]]
    val_datasets: dict[Dataset, list[Split]]
    eval_splits: list[Split]
    utkface_framing: Literal["mtcnn", "source"]
    train_limit: PositiveInt | None
    val_limit: PositiveInt | None
    eval_limit: PositiveInt | None
    ten_crop_eval: Annotated[list[bool], Field(min_length=1)]
    class_weight_power: NonNegativeFloat
    head_weights: dict[Head, NonNegativeFloat]
    age_head: AgeHeadParams
    calibrate: bool               # fit each head's temperature on the validation split after training
    label_smoothing: Probability
    dropout: Probability
    optimizer: Literal["sgd", "adamw"]
    lr: PositiveFloat
    momentum: Fraction
    weight_decay: NonNegativeFloat
    schedule: Literal["onecycle", "constant"]
    warmup_fraction: Fraction
    ema_decay: Annotated[float, Field(gt=0.0, lt=1.0)] | None
    ema_start_fraction: NonNegativeFloat   # above 1: the EMA never starts
    batch_size: PositiveInt
    max_epochs: PositiveInt
    max_steps: PositiveInt | None
    max_time: MaxTime | None
    budget_minutes: PositiveFloat | None
    budget_warmup_steps: NonNegativeInt
    budget_probe_steps: PositiveInt
    budget_margin: Probability
    limit_train_batches: BatchLimit
    limit_val_batches: BatchLimit
    early_stopping_patience: PositiveInt | None
    gradient_clip_val: PositiveFloat | None
    precision: Precision
    channels_last: Literal["auto"] | bool
    log_every_n_steps: PositiveInt
    progress_bar: bool
    augment: AugmentParams

    @property
    def groups(self) -> dict[str, list[str]]:
        """Group name (its heads joined by ``_``) -> heads. One group = one network per backbone."""
        return {"_".join(group): list(group) for group in self.head_groups}

    @model_validator(mode="after")
    def _overrides_name_groups(self, info: ValidationInfo) -> FrameCNNParams:
        if (info.context or {}).get(MERGED):   # one group's settings: checked with the section they come from
            return self
        groups = list(self.groups)
        unknown = set(self.group_overrides) - set(groups)
        if unknown:
            raise ValueError(f"group_overrides names {sorted(unknown)}, which are not head groups ({groups})")
        for i, group in enumerate(groups):
            try:
                merged = self._merged(group)
            except ValidationError as exc:
                where = "; ".join(f"group_overrides.{group}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                  for e in exc.errors())
                raise ValueError(where) from None
            if merged.init_from is not None and merged.init_from not in groups[:i]:
                raise ValueError(f"group_overrides.{group}.init_from {merged.init_from!r} must name a head group "
                                 f"listed earlier in head_groups ({groups[:i]})")
        return self

    def _merged(self, group: str) -> FrameCNNParams:
        structural = {"backbones", "head_groups", "group_overrides"} & set(self.group_overrides.get(group, {}))
        if structural:
            raise ValueError(f"group_overrides.{group} may not set {sorted(structural)}")
        return type(self).model_validate({**self.model_dump(), **self.group_overrides.get(group, {}),
                                          "group_overrides": {}}, context={MERGED: True})


class FrameCNNSettings(FrameCNNParams, HardwareParams):
    """What trains one frame CNN: the frame_cnn section with one group's overrides, and the hardware section.

    Built by :meth:`FaceModelsParams.frame_cnn_for`; ``FrameCNNSettings.model_validate(dict)`` builds one from a
    plain dict (the frame_cnn keys plus ``accelerator`` and ``devices``), as tests and benchmarks do."""


class SVMParams(Section):
    normalisations: Annotated[list[Literal["l2", "minmax"]], Field(min_length=1)]
    Cs: Annotated[list[PositiveFloat], Field(min_length=1)]
    cv: Annotated[int, Field(ge=2)]
    cv_folds: NonNegativeInt               # subject-independent k-fold evaluation (0 = off)
    train_variants: Annotated[list[Variant], Field(min_length=1)]


class LSTMParams(Section):
    frame_models: Annotated[list[str], Field(min_length=1)]
    hidden_sizes: Annotated[list[PositiveInt], Field(min_length=1)]
    fusion_hidden: PositiveInt
    clip_length: PositiveInt
    clip_stride: PositiveInt
    pad: Literal["loop", "repeat_last"]
    train_variants: Annotated[list[Variant], Field(min_length=1)]
    class_weight_power: NonNegativeFloat
    dropout: Probability
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    batch_size: PositiveInt
    max_epochs: PositiveInt
    cv_max_epochs: PositiveInt
    cv_folds: NonNegativeInt
    precision: Precision
    progress_bar: bool
    log_every_n_steps: PositiveInt


class LSTMSettings(LSTMParams, HardwareParams):
    """The lstm section with the hardware section: what trains the LSTM branch."""


class VideoParams(Section):
    sequence_datasets: list[Literal["ckplus", "afew"]]
    max_sequences_per_split: PositiveInt | None
    feature_variants: Annotated[list[Variant], Field(min_length=1)]
    svm: SVMParams
    lstm: LSTMParams

    @model_validator(mode="after")
    def _original_features(self) -> VideoParams:
        if "original" not in self.feature_variants:
            raise ValueError("feature_variants must include 'original' (the frames every branch is evaluated on)")
        return self


class FaceModelsParams(Section):
    """The whole ``face_models`` parameters section."""

    environment: str
    seed: NonNegativeInt
    num_threads: Literal["auto"] | PositiveInt | None
    tracking: bool
    workdir: str
    hardware: HardwareParams
    preprocessing: PreprocessingParams
    framing: FramingParams
    frame_cnn: FrameCNNParams
    video: VideoParams

    @property
    def work_root(self) -> Path:
        """Where Lightning's checkpoints and logs go (``workdir``, relative to the project root)."""
        root = Path(self.workdir)
        return root if root.is_absolute() else PROJECT_ROOT / root

    @model_validator(mode="after")
    def _budgets_train_on_one_process(self) -> FaceModelsParams:
        """Every group's time budget checked against the hardware when the run starts, before any training."""
        budgets = {}
        for group in self.frame_cnn.groups:
            own = "budget_minutes" in self.frame_cnn.group_overrides.get(group, {})
            key = f"face_models.frame_cnn.{f'group_overrides.{group}.' if own else ''}budget_minutes"
            budgets[key] = self.frame_cnn._merged(group).budget_minutes
        self.hardware.require_one_process_for(budgets)
        return self

    def frame_cnn_for(self, group: str) -> FrameCNNSettings:
        """The frame_cnn section with ``group``'s overrides and the hardware section."""
        return FrameCNNSettings.model_validate({**self.frame_cnn._merged(group).model_dump(),
                                                **self.hardware.model_dump()}, context={MERGED: True})

    def lstm_settings(self) -> LSTMSettings:
        return LSTMSettings.model_validate({**self.video.lstm.model_dump(), **self.hardware.model_dump()})

    def frame_backbones(self) -> list[str]:
        """Every backbone to train: the static frame models', then the LSTM's feature extractors."""
        return list(dict.fromkeys([*self.frame_cnn.backbones, *self.video.lstm.frame_models]))
