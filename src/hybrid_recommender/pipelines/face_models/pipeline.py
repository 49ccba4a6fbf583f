"""face_models pipeline: the paper's face attribute extraction module (Section III-A, Fig. 2)."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.face_models import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.reframe_with_mtcnn, inputs=["utkface_faces", "utkface_pixels", "params:face_models"],
                 outputs=["utkface_mtcnn_pixels", "utkface_mtcnn_report"], name="reframe_utkface_with_mtcnn"),
            Node(nodes.train_frame_cnns,
                 inputs=["fer2013_faces", "fer2013_pixels", "utkface_faces", "utkface_pixels", "utkface_mtcnn_pixels",
                         "ckplus_faces", "ckplus_pixels", "rafdb_faces", "rafdb_pixels", "params:face_models",
                         "params:data_engineering.age_groups", "params:data_engineering.fer2013.exclude_blank"],
                 outputs=["frame_cnn_models", "frame_cnn_metrics", "frame_cnn_confusion_matrices"],
                 name="train_frame_cnns"),
            Node(nodes.build_emotion_sequences,
                 inputs=["ckplus_faces", "ckplus_pixels", "afew_faces", "afew_pixels", "params:face_models"],
                 outputs="emotion_sequences", name="build_emotion_sequences"),
            Node(nodes.extract_sequence_features, inputs=["frame_cnn_models", "emotion_sequences", "params:face_models"],
                 outputs="sequence_features", name="extract_sequence_features"),
            Node(nodes.train_cnn_branch, inputs=["sequence_features", "emotion_sequences", "params:face_models"],
                 outputs="cnn_branch", name="train_cnn_svm_branch"),
            Node(nodes.train_lstm_branch, inputs=["sequence_features", "emotion_sequences", "params:face_models"],
                 outputs="lstm_branch", name="train_lstm_branch"),
            Node(nodes.fuse_branches, inputs=["cnn_branch", "lstm_branch", "emotion_sequences", "params:face_models"],
                 outputs=["video_fusion", "video_branch_metrics", "video_confusion_matrices"], name="fuse_video_branches"),
            Node(nodes.assemble_predictor,
                 inputs=["frame_cnn_models", "cnn_branch", "lstm_branch", "video_fusion", "params:face_models"],
                 outputs="face_attribute_predictor", name="save_face_attribute_predictor"),
            Node(nodes.summarise_face_models, inputs=["frame_cnn_metrics", "video_branch_metrics"],
                 outputs="face_models_summary", name="summarise_face_models"),
            Node(nodes.face_models_metrics, inputs="face_models_summary", outputs="face_models_metrics",
                 name="collect_face_models_metrics"),
        ],
        tags=["face_models"],   # the pipeline's name as a tag: Kedro-Viz filters the graph by it
    )
