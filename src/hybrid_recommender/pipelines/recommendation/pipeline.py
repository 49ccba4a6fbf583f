"""recommendation pipeline."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.recommendation import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.train_test_ratings, inputs=["movielens_ratings", "params:recommendation"],
                 outputs=["ratings_train", "ratings_test"], name="split_ratings_train_test"),
            Node(nodes.emotion_genre_affinity, inputs="params:recommendation", outputs="emotion_genre_affinity",
                 name="tabulate_emotion_genre_affinity"),
            Node(nodes.fitted_recommenders,
                 inputs=["ratings_train", "movielens_users", "movielens_movies", "movie_clusters",
                         "params:recommendation", "params:data_engineering.age_groups"],
                 outputs="recommenders", name="fit_recommenders"),
            Node(nodes.hybrid_recommender, inputs=["recommenders", "params:recommendation"],
                 outputs="hybrid_recommender", name="select_hybrid_recommender"),
            Node(nodes.group_recommendations, inputs=["hybrid_recommender", "movielens_movies",
                                                      "params:recommendation"],
                 outputs="group_recommendations", name="list_group_recommendations"),
            Node(nodes.group_recommendation_summary, inputs="group_recommendations",
                 outputs="group_recommendation_summary", name="summarise_group_recommendations"),
            Node(nodes.baseline_group_recommendations,
                 inputs=["recommenders", "movielens_movies", "params:recommendation"],
                 outputs="recommender_group_lists", name="list_every_recommender_per_group"),
            Node(nodes.recommender_comparison,
                 inputs=["recommenders", "ratings_train", "ratings_test", "movielens_users",
                         "params:recommendation"],
                 outputs="recommender_comparison", name="compare_recommenders_on_heldout"),
            Node(nodes.recommendation_metrics, inputs="recommender_comparison", outputs="recommendation_metrics",
                 name="collect_recommendation_metrics"),
        ],
        tags=["recommendation"],
    )
