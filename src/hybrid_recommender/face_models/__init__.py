"""Face attribute models (age group, gender, 7 emotions): frame CNN, video CNN+SVM and LSTM branches, fusion.

Plain Python and PyTorch Lightning, usable outside Kedro. The pipeline in
``hybrid_recommender.pipelines.face_models`` wires these into ``kedro run --pipelines face_models``;
:class:`~hybrid_recommender.face_models.predictor.FaceAttributePredictor` loads what it saved.
"""

from hybrid_recommender.labels import DEFAULT_AGE_GROUPS, EMOTIONS

# The three heads of the frame CNN and their classes, in output order.
HEADS: dict[str, tuple[str, ...]] = {
    "emotion": EMOTIONS,
    "gender": ("male", "female"),
    "age_group": DEFAULT_AGE_GROUPS,
}
