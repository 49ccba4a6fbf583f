"""clustering pipeline."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.clustering import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.kmeans_wcss_curve, inputs=["movielens_movies", "params:clustering"],
                 outputs="kmeans_wcss_curve", name="compute_kmeans_wcss_curve"),
            Node(nodes.elbow_k, inputs=["kmeans_wcss_curve", "params:clustering"], outputs="elbow_k",
                 name="choose_elbow_k"),
            Node(nodes.movie_clusters, inputs=["movielens_movies", "elbow_k", "params:clustering"],
                 outputs="movie_clusters", name="cluster_movies_by_genre"),
            Node(nodes.cluster_profiles, inputs=["movielens_movies", "movie_clusters", "params:clustering"],
                 outputs="cluster_profiles", name="profile_clusters"),
            Node(nodes.elbow_plot, inputs=["kmeans_wcss_curve", "elbow_k", "params:clustering"],
                 outputs="elbow_plot", name="plot_elbow"),
            Node(nodes.clustering_metrics, inputs=["kmeans_wcss_curve", "elbow_k"], outputs="clustering_metrics",
                 name="collect_clustering_metrics"),
        ],
        tags=["clustering"],
    )
