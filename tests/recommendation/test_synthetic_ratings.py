"""The growth benchmark's synthetic ratings (benchmarks/synthetic_ratings.py): ML-100K's layout and distributions.

The generator draws from the real ML-100K (templates for attributes and distributions only), so these tests read it.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.synthetic_ratings import ITEM_EXPONENT, SYNTHETIC_NOTE, load_template, make_dataset, parse_size
from hybrid_recommender.ingest.movielens import read_movielens
from hybrid_recommender.ingest.sources import DataSource

pytestmark = pytest.mark.real_data

N = 20_000


@pytest.fixture(scope="module")
def template(shared_datasets):
    return load_template(shared_datasets / "ml-100k.zip")


@pytest.fixture(scope="module")
def written(template, tmp_path_factory):
    """20K synthetic ratings written in the ML-100K layout, and what the project's reader reads from them."""
    made = make_dataset(N, tmp_path_factory.mktemp("synthetic"), seed=0, template=template)
    return made, read_movielens(DataSource(made["folder"]))


def test_sizes_follow_the_documented_rule(template):
    assert (len(template.users), len(template.movies), template.n_ratings) == (943, 1682, 100_000)
    for n in (N, 1_000_000, 10_000_000):
        users, items = template.sizes(n)
        assert users == round(943 * n / 100_000)                              # linear in N
        assert items == round(1682 * (n / 100_000) ** ITEM_EXPONENT)           # sub-linear
    assert template.sizes(10_000_000) == (94_300, 10_613)                     # ML-10M: 69.9K users, 10.7K movies
    assert [parse_size(s) for s in ("20k", "1m", "10M", "100_000")] == [20_000, 1_000_000, 10_000_000, 100_000]


def test_the_reader_reads_every_line_with_no_repeated_pair(written, template):
    made, (ratings, users, movies, skips) = written
    assert skips.empty, skips.head()
    assert len(ratings) == N == made["ratings"]
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    assert (len(users), len(movies)) == template.sizes(N) == (made["users"], made["items"])
    assert set(ratings["user_id"]) == set(users["user_id"])                   # every user rates something
    assert set(ratings["item_id"]) <= set(movies["item_id"])
    assert (made["folder"] / SYNTHETIC_NOTE).read_text().startswith("SYNTHETIC")


def test_rating_and_count_distributions_follow_ml100k(written, shared_datasets):
    _, (ratings, users, movies, _) = written
    real, real_users, real_movies, _ = read_movielens(DataSource(shared_datasets / "ml-100k.zip"))
    share = np.bincount(ratings["rating"], minlength=6)[1:] / len(ratings)
    real_share = np.bincount(real["rating"], minlength=6)[1:] / len(real)
    np.testing.assert_allclose(share, real_share, atol=0.005)                 # cut at ML-100K's quantiles
    per_user, real_per_user = ratings.groupby("user_id").size(), real.groupby("user_id").size()
    assert abs(per_user.median() / real_per_user.median() - 1) < 0.3         # 189 users: a sample of ML-100K's
    assert per_user.mean() == pytest.approx(real_per_user.mean(), rel=0.02)   # N / users = ML-100K's mean
    # user and movie structure: spread of the per-user and per-movie mean ratings near ML-100K's
    assert ratings.groupby("user_id")["rating"].mean().std() == pytest.approx(
        real.groupby("user_id")["rating"].mean().std(), rel=0.25)
    # attributes copied from template users and movies; nothing else of theirs
    assert users["gender"].value_counts(normalize=True)["male"] == pytest.approx(
        real_users["gender"].value_counts(normalize=True)["male"], abs=0.1)
    assert movies["title"].str.fullmatch(r"Synthetic movie \d+ \(template \d+\)").all()
    assert not set(movies["title"]) & set(real_movies["title"])
    assert (users["zip_code"] == "00000").all()


def test_the_same_seed_draws_the_same_ratings(template, written, tmp_path):
    made, _ = written
    again = make_dataset(N, tmp_path, seed=0, template=template)
    assert (again["folder"] / "u.data").read_bytes() == (made["folder"] / "u.data").read_bytes()
    other = make_dataset(N, tmp_path / "other", seed=1, template=template)
    assert (other["folder"] / "u.data").read_bytes() != (made["folder"] / "u.data").read_bytes()
