"""pandera schemas of the tables data_engineering writes: the contract the other pipelines read."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.pandas import Check, Column

from hybrid_recommender.labels import EMOTION_VOCABULARY, GENDERS, GENRES

RATINGS_SCHEMA = pa.DataFrameSchema(
    {
        "user_id": Column("int64", Check.ge(1)),
        "item_id": Column("int64", Check.ge(1)),
        "rating": Column("int8", Check.in_range(1, 5)),
        "timestamp": Column("int64"),
    },
    strict=True,
    name="movielens_ratings",
)

USERS_SCHEMA = pa.DataFrameSchema(
    {
        "user_id": Column("int64", Check.ge(1), unique=True),
        "age": Column("int64", Check.in_range(1, 120)),
        "gender": Column(str, Check.isin(list(GENDERS))),
        "occupation": Column(str),
        "zip_code": Column(str),
        "age_group": Column("category", nullable=False),
    },
    strict=True,
    name="movielens_users",
)

MOVIES_SCHEMA = pa.DataFrameSchema(
    {
        "item_id": Column("int64", Check.ge(1), unique=True),
        "title": Column(str),
        "release_date": Column("datetime64[ns]", nullable=True, coerce=True),
        "imdb_url": Column(str, nullable=True),
        **{genre: Column("int8", Check.isin([0, 1])) for genre in GENRES},
    },
    strict=True,
    name="movielens_movies",
)

FACE_SCHEMA = pa.DataFrameSchema(
    {
        "face_id": Column("string", unique=True),
        "dataset": Column(str),
        "source_file": Column("string"),
        "split": Column("string", Check.isin(["train", "val", "test"])),
        "pixel_row": Column("int64", Check.ge(0)),
        "emotion": Column("category", Check.isin(list(EMOTION_VOCABULARY)), nullable=True),
        "gender": Column("category", Check.isin(list(GENDERS)), nullable=True),
        "age": Column("float64", Check.in_range(0, 120), nullable=True),
        "age_group": Column("category", nullable=True),
        "source_age_group": Column("string", nullable=True),
        "subject": Column("string", nullable=True),
        "sequence_id": Column("string", nullable=True),
        "frame_index": Column("int64"),
        "fold": Column("int64"),
        "is_blank": Column(bool),
    },
    strict=True,
    name="faces",
)
