"""Face attribute models (age group, gender, 7 emotions): frame CNN, video CNN+SVM and LSTM branches, fusion.

Plain Python and PyTorch Lightning, usable outside Kedro. The pipeline in
``hybrid_recommender.pipelines.face_models`` wires these into ``kedro run --pipelines face_models``;
:class:`~hybrid_recommender.face_models.predictor.FaceAttributePredictor` loads what it saved.
"""

from collections.abc import Sequence

from hybrid_recommender.face_models import backbones as _backbones  # noqa: F401 - registers face_vgg_* in timm
from hybrid_recommender.labels import BINARY_GENDERS, EMOTIONS

Heads = dict[str, tuple[str, ...]]


def make_heads(age_groups: Sequence[str]) -> Heads:
    """The frame CNN's heads and their classes, in output order; the age head follows the configured groups."""
    return {"emotion": tuple(EMOTIONS), "gender": tuple(BINARY_GENDERS), "age_group": tuple(age_groups)}
