"""data_engineering pipeline."""

from kedro.pipeline import Node, Pipeline

from hybrid_recommender.pipelines.data_engineering import nodes

FACE_SETS = tuple(nodes.FACE_SETS)


def create_pipeline(**kwargs) -> Pipeline:
    # Every reader takes the inventory, so that its checks (datasets folder, writable outputs, a readable set
    # for each kind of label) run, and fail fast, before anything is read or written.
    face_nodes = [
        Node(
            getattr(nodes, f"{name}_faces"),
            inputs=[f"{name}_source", "data_set_inventory", "params:data_engineering",
                    *(["afew_face_cache"] if name == "afew" else [])],
            outputs=[f"{name}_faces", f"{name}_pixels", f"{name}_skips"],
            name=f"read_{name}_faces",
            tags=["faces"],
        )
        for name in FACE_SETS
    ]
    return Pipeline(
        [
            Node(nodes.data_set_inventory,
                 inputs=["params:data_engineering", *(f"{n}_source" for n in FACE_SETS)],
                 outputs="data_set_inventory", name="take_data_set_inventory", tags=["faces", "movielens"]),
            # data_engineering.movielens.version picks 100K or 1M: only that one is downloaded (when missing) and read.
            Node(nodes.downloaded_movielens,
                 inputs=["movielens_100k_source", "movielens_1m_source", "params:data_engineering"],
                 outputs=["movielens_archive", "movielens_1m_archive"], name="download_movielens",
                 tags=["movielens"]),
            Node(nodes.movielens_tables,
                 inputs=["movielens_archive", "movielens_1m_archive", "params:data_engineering"],
                 outputs=["movielens_ratings", "movielens_users", "movielens_movies", "movielens_skips"],
                 name="read_movielens_tables", tags=["movielens"]),
            *face_nodes,
            Node(nodes.ingestion_skips, inputs=["movielens_skips", *(f"{n}_skips" for n in FACE_SETS)],
                 outputs="ingestion_skips", name="collect_ingestion_skips"),
            Node(nodes.ingestion_skip_summary, inputs="ingestion_skips", outputs="ingestion_skip_summary",
                 name="count_skips_by_reason"),
            Node(nodes.ingestion_counts,
                 inputs=["movielens_ratings", "movielens_users", "movielens_movies", *(f"{n}_faces" for n in FACE_SETS)],
                 outputs="ingestion_counts", name="count_records_per_label"),
            Node(nodes.face_split_table, inputs=["params:data_engineering", *(f"{n}_faces" for n in FACE_SETS)],
                 outputs="face_splits", name="tabulate_face_splits"),
            Node(nodes.ingestion_counts_plot,
                 inputs=["ingestion_counts", "ingestion_skip_summary", "params:data_engineering.movielens.version"],
                 outputs="ingestion_counts_plot", name="plot_ingestion_counts"),
        ],
        tags=["data_engineering"],   # the pipeline's name as a tag: Kedro-Viz filters the graph by it
    )
