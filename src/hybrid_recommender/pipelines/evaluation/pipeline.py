"""evaluation pipeline. Nodes tagged `no_faces` need no face model; the registry adds them to `recommendation`."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.evaluation import nodes

NO_FACES = "no_faces"
P, R, AGE = "params:evaluation", "params:recommendation", "params:data_engineering.age_groups"


def create_pipeline(**kwargs) -> Pipeline:
    no_faces = Pipeline(
        [
            Node(nodes.evaluation_viewers, inputs=["movielens_users", "ratings_test", P],
                 outputs="evaluation_viewers", name="sample_evaluation_viewers"),
            Node(nodes.improved_hybrid_weights,
                 inputs=["ratings_train", "movielens_users", "movielens_movies", P, R, AGE],
                 outputs=["improved_hybrid_weights", "improved_hybrid_validation"],
                 name="choose_improved_hybrid_weights_on_validation"),
            Node(nodes.evaluated_systems,
                 inputs=["recommenders", "ratings_train", "movielens_users", "movielens_movies",
                         "improved_hybrid_weights", P, R, AGE],
                 outputs="evaluation_systems", name="fit_evaluated_systems"),
            Node(nodes.oracle_scores,
                 inputs=["evaluation_viewers", "evaluation_systems", "ratings_train", "ratings_test",
                         "movielens_movies", P, R],
                 outputs="evaluation_oracle_scores", name="score_systems_with_oracle_attributes"),
            Node(nodes.prf_by_age_group_oracle, inputs=["evaluation_oracle_scores", P, R],
                 outputs=["prf_by_age_group_oracle", "prf_by_age_group_oracle_md"],
                 name="tabulate_prf_by_age_group_oracle"),
        ],
        tags=["evaluation", NO_FACES],
    )
    faces = Pipeline(
        [
            Node(nodes.held_out_face_predictions,
                 inputs=["face_attribute_predictor", "utkface_faces", "utkface_mtcnn_pixels", "fer2013_faces",
                         "fer2013_pixels", "rafdb_faces", "rafdb_pixels", P],
                 outputs="evaluation_face_predictions", name="predict_held_out_faces"),
            Node(nodes.evaluation_observations, inputs=["evaluation_viewers", "evaluation_face_predictions", P],
                 outputs="evaluation_observations", name="give_viewers_composite_faces"),
            Node(nodes.predicted_scores,
                 inputs=["evaluation_observations", "evaluation_systems", "ratings_train", "ratings_test",
                         "movielens_movies", P, R],
                 outputs="evaluation_predicted_scores", name="score_systems_with_predicted_attributes"),
            Node(nodes.prf_by_age_group, inputs=["evaluation_oracle_scores", "evaluation_predicted_scores", P, R],
                 outputs=["prf_by_age_group", "improved_hybrid_target"], name="tabulate_prf_by_age_group"),
            Node(nodes.face_attribute_accuracy, inputs=["evaluation_face_predictions", "evaluation_observations", P],
                 outputs=["face_attribute_accuracy", "face_attribute_accuracy_per_attribute"],
                 name="tabulate_face_attribute_accuracy"),
            Node(nodes.face_models_comparison, inputs="face_models_summary", outputs="face_models_comparison",
                 name="compare_face_models_with_paper"),
            Node(nodes.favoured_clusters, inputs=["recommenders", R, AGE], outputs="favoured_clusters",
                 name="tabulate_favoured_clusters"),
            Node(nodes.favoured_cluster_heatmap, inputs="favoured_clusters", outputs="favoured_cluster_heatmap",
                 name="plot_favoured_clusters"),
            Node(nodes.prf_bar_chart, inputs=["prf_by_age_group", P], outputs="prf_bar_chart",
                 name="plot_prf_by_age_group"),
            Node(nodes.evaluation_report,
                 inputs=["face_attribute_accuracy", "face_attribute_accuracy_per_attribute", "face_models_comparison",
                         "prf_by_age_group", "improved_hybrid_target", "improved_hybrid_weights", "favoured_clusters",
                         "evaluation_observations", P],
                 outputs="evaluation_report", name="write_evaluation_report"),
            Node(nodes.evaluation_mlflow_runs,
                 inputs=["evaluation_observations", "evaluation_oracle_scores", "evaluation_predicted_scores",
                         "prf_by_age_group", "face_attribute_accuracy", "face_attribute_accuracy_per_attribute",
                         "face_models_comparison", "improved_hybrid_target", "favoured_clusters",
                         "evaluation_report", "prf_bar_chart", "favoured_cluster_heatmap", "improved_hybrid_weights",
                         P, R],
                 outputs="evaluation_mlflow_runs", name="log_evaluation_parent_and_observation_runs"),
        ],
        tags=["evaluation"],
    )
    return no_faces + faces
