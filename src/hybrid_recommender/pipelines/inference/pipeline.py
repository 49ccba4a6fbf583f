"""inference pipeline."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.inference import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.popularity_cold_start_lists,
                 inputs=["ratings_train", "movielens_users", "movielens_movies", "params:inference",
                         "params:recommendation.groups"],
                 outputs="cold_start_lists", name="list_cold_start_movies"),
            Node(nodes.batch_recommendations,
                 inputs=["face_attribute_predictor", "hybrid_recommender", "cold_start_lists", "movielens_movies",
                         "params:inference"],
                 outputs="inference_results", name="recommend_for_batch_inputs"),
            Node(nodes.recommendation_table, inputs="inference_results", outputs="inference_summary",
                 name="tabulate_batch_recommendations"),
            Node(nodes.batch_metrics, inputs="inference_results", outputs="inference_metrics",
                 name="collect_inference_metrics"),
        ],
        tags=["inference"],
    )
