"""Synthetic MovieLens ratings in the MovieLens 100K layout, drawn to match ML-100K, for the growth benchmark.

The files are SYNTHETIC: no synthetic user, movie or rating is a MovieLens record. Real ML-100K users and movies
serve as templates for attributes and distributions only:

* sizes: ``users = round(943 * N / 100_000)`` (linear in N: ML-100K's 106 ratings per user on average, kept) and
  ``items = round(1682 * (N / 100_000) ** 0.4)`` (sub-linear: ML-1M has 3.7K movies at 10x, ML-10M 10.7K at 100x;
  the rule gives 4.2K and 10.6K). 943, 1682 and 100 000 are read from the template, so the rule is ML-100K's.
* each synthetic user copies a template user drawn uniformly from ML-100K: age, gender, occupation, its number of
  ratings (so per-user counts follow ML-100K's distribution; scaled by a common factor ~1 so they add up to N) and
  its timestamp range;
* each synthetic movie copies a template movie (every real movie used equally often, in random order): its genre
  flags, release date and popularity (its ML-100K rating count); a synthetic user's movies are drawn in proportion
  to popularity, without repeating a movie;
* each rating is an ordinal draw: ``s = b_user + b_item + taste(user, genres) + noise`` from the templates'
  baselines (shrunk mean offsets), the template user's shrunk per-genre offsets averaged over the movie's genres,
  and Gaussian noise with ML-100K's residual spread; ``s`` is cut at its quantiles so that the share of each
  rating 1-5 is ML-100K's.

Titles are ``Synthetic movie 123 (template 50)``; zip codes ``00000``; there is no IMDb URL. A ``SYNTHETIC.txt`` in
the folder says what it is. numpy ``default_rng(seed)``, vectorised: 10M ratings in well under a minute.

    .venv/bin/python benchmarks/synthetic_ratings.py --ratings 1m --check [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy import sparse

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT / "src") not in sys.path:
    sys.path.insert(0, str(PROJECT / "src"))

from hybrid_recommender.ingest.movielens import read_movielens  # noqa: E402
from hybrid_recommender.ingest.sources import DataSource  # noqa: E402
from hybrid_recommender.labels import GENRES  # noqa: E402

ML100K = PROJECT.parent / "shared" / "datasets" / "ml-100k.zip"
ITEM_EXPONENT = 0.4            # items = items_100k * (N / ratings_100k) ** ITEM_EXPONENT
SHRINK_BASELINE = 5.0          # shrinkage of the template user / item mean offsets (ratings' worth of prior)
SHRINK_TASTE = 5.0             # shrinkage of a template user's per-genre offsets
SYNTHETIC_NOTE = "SYNTHETIC.txt"


def parse_size(text: str) -> int:
    """``100k`` -> 100_000, ``1m`` -> 1_000_000, ``10M``, ``20000``."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def size_label(n: int) -> str:
    for unit, label in ((1_000_000, "M"), (1_000, "K")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{label}"
    return str(n)


@dataclass(frozen=True)
class Template:
    """What the generator takes from ML-100K: per-user and per-movie attributes and rating statistics."""

    users: pd.DataFrame            # user_id, age, gender (M/F), occupation, count, ts_min, ts_max, bias
    movies: pd.DataFrame           # item_id, release_date (dd-Mon-YYYY or ""), genre flags, count, bias
    taste: np.ndarray              # template users x template movies, float32: per-genre offsets over the genres
    rating_shares: np.ndarray      # share of ratings 1..5
    noise_sd: float                # residual spread of ML-100K after baselines and taste
    n_ratings: int
    source_sha256: str

    def sizes(self, n_ratings: int) -> tuple[int, int]:
        """(users, items) of ``n_ratings`` synthetic ratings: users linear in N, items sub-linear."""
        factor = n_ratings / self.n_ratings
        return (max(1, round(len(self.users) * factor)),
                max(1, round(len(self.movies) * factor ** ITEM_EXPONENT)))


def load_template(source: Path = ML100K) -> Template:
    """ML-100K as the project's reader reads it, and the statistics the generator draws from."""
    ratings, users, movies, _ = read_movielens(DataSource(Path(source)))
    u_index = pd.Index(users["user_id"])
    m_index = pd.Index(movies["item_id"])
    ui = u_index.get_indexer(ratings["user_id"])
    mi = m_index.get_indexer(ratings["item_id"])
    r = ratings["rating"].to_numpy(np.float64)
    n_u, n_m = len(users), len(movies)
    mu = r.mean()
    n_per_m = np.bincount(mi, minlength=n_m)
    b_m = np.bincount(mi, r - mu, n_m) / (n_per_m + SHRINK_BASELINE)
    n_per_u = np.bincount(ui, minlength=n_u)
    b_u = np.bincount(ui, r - mu - b_m[mi], n_u) / (n_per_u + SHRINK_BASELINE)
    resid = r - mu - b_u[ui] - b_m[mi]
    flags = movies[list(GENRES)].to_numpy(np.float64)                                  # movies x genres
    rated = sparse.csr_matrix((np.ones_like(r), (ui, mi)), shape=(n_u, n_m))
    summed = sparse.csr_matrix((resid, (ui, mi)), shape=(n_u, n_m))
    per_genre = (summed @ flags) / ((rated @ flags) + SHRINK_TASTE)                     # users x genres
    taste = (per_genre @ (flags / np.maximum(flags.sum(1, keepdims=True), 1)).T).astype(np.float32)
    noise_sd = float(np.std(resid - taste[ui, mi]))
    ts = ratings.groupby(ui)["timestamp"].agg(["min", "max"]).reindex(range(n_u))
    gender = users["gender"].map({"male": "M", "female": "F"}).fillna("M")
    dates = movies["release_date"].dt.strftime("%d-%b-%Y").fillna("")
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest() if Path(source).is_file() else ""
    return Template(
        users=pd.DataFrame({"user_id": users["user_id"], "age": users["age"], "gender": gender,
                            "occupation": users["occupation"], "count": n_per_u, "ts_min": ts["min"].to_numpy(),
                            "ts_max": ts["max"].to_numpy(), "bias": b_u}),
        movies=pd.concat([pd.DataFrame({"item_id": movies["item_id"], "release_date": dates}),
                          movies[list(GENRES)].reset_index(drop=True),
                          pd.DataFrame({"count": n_per_m, "bias": b_m})], axis=1),
        taste=taste,
        rating_shares=np.bincount(ratings["rating"].to_numpy(), minlength=6)[1:] / len(ratings),
        noise_sd=noise_sd, n_ratings=len(ratings), source_sha256=digest)


@dataclass(frozen=True)
class Synthetic:
    ratings: pd.DataFrame          # user_id, item_id, rating, timestamp (ids from 1)
    users: pd.DataFrame            # user_id, age, gender, occupation, zip_code, template_user
    movies: pd.DataFrame           # item_id, title, release_date, genre flags, template_item
    seed: int


def _user_counts(rng: np.random.Generator, template_counts: np.ndarray, n_ratings: int, n_items: int) -> np.ndarray:
    """Each user's template count, scaled by one common factor (~1) so they add up to ``n_ratings``, <= n_items."""
    counts = np.minimum(template_counts, n_items).astype(np.float64)
    target = counts * (n_ratings / counts.sum())
    base = np.minimum(np.floor(target), n_items).astype(np.int64)
    short = n_ratings - int(base.sum())
    room = np.flatnonzero(base < n_items)
    if short > len(room):
        raise ValueError(f"{n_ratings} ratings do not fit {len(template_counts)} users x {n_items} items")
    # the users with the largest fractional parts get one more (ties broken at random)
    order = room[np.lexsort((rng.random(len(room)), -(target[room] - base[room])))]
    base[order[:short]] += 1
    return base


def _dedupe(keys: np.ndarray, presorted: np.ndarray | None = None) -> np.ndarray:
    """Sorted distinct keys of ``keys`` and the already sorted, distinct ``presorted`` (sort-based: numpy's
    hash-based ``unique`` is several times slower on 10M int64)."""
    keys = np.sort(keys)
    if presorted is not None:
        keys = np.sort(np.concatenate([presorted, keys]), kind="stable")   # two sorted runs: a linear merge
    keep = np.empty(len(keys), bool)
    keep[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _draw_items(rng: np.random.Generator, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sorted keys ``user * n_items + item``: each user's ``counts`` distinct items, drawn in proportion to weights.

    Draws with replacement, drops repeats and draws again for what is missing; the few users still short after
    some rounds (a heavy user on few items) get an exact weighted draw without replacement.
    """
    n_users, n_items = len(counts), len(weights)
    cum = np.cumsum(weights)

    def draw(users: np.ndarray) -> np.ndarray:
        items = np.searchsorted(cum, rng.random(len(users)) * cum[-1], side="right")
        return users.astype(np.int64) * n_items + np.minimum(items, n_items - 1)

    keys = _dedupe(draw(np.repeat(np.arange(n_users, dtype=np.int32), counts)))
    for _ in range(8):
        missing = counts - np.bincount(keys // n_items, minlength=n_users)
        if not missing.any():
            return keys
        keys = _dedupe(draw(np.repeat(np.arange(n_users, dtype=np.int32), missing)), keys)
    missing = counts - np.bincount(keys // n_items, minlength=n_users)
    extra = []
    for user in np.flatnonzero(missing):
        taken = keys[np.searchsorted(keys, user * n_items):np.searchsorted(keys, (user + 1) * n_items)]
        free = np.setdiff1d(np.arange(n_items), taken - user * n_items)
        p = weights[free] / weights[free].sum()
        extra.append(user * n_items + rng.choice(free, missing[user], replace=False, p=p))
    return _dedupe(np.concatenate(extra), keys) if extra else keys


def generate(n_ratings: int, template: Template, seed: int = 0) -> Synthetic:
    """``n_ratings`` synthetic ratings (no repeated user-movie pair) and their users and movies."""
    rng = np.random.default_rng(seed)
    n_users, n_items = template.sizes(n_ratings)
    tu = rng.integers(len(template.users), size=n_users)                        # template user of each user
    reps = -(-n_items // len(template.movies))
    ti = np.concatenate([rng.permutation(len(template.movies)) for _ in range(reps)])[:n_items]
    tusers, tmovies = template.users, template.movies

    counts = _user_counts(rng, tusers["count"].to_numpy()[tu], n_ratings, n_items)
    keys = _draw_items(rng, counts, tmovies["count"].to_numpy(np.float64)[ti])
    keys = keys[rng.permutation(len(keys))]                                    # the file's order: no meaning
    user = (keys // n_items).astype(np.int32)
    item = (keys % n_items).astype(np.int32)
    del keys
    tu_r, ti_r = tu[user], ti[item]
    score = (tusers["bias"].to_numpy(np.float32)[tu_r] + tmovies["bias"].to_numpy(np.float32)[ti_r]
             + template.taste[tu_r, ti_r])
    score += rng.standard_normal(len(score), dtype=np.float32) * np.float32(template.noise_sd)
    cuts = np.quantile(score, np.cumsum(template.rating_shares)[:-1])        # ML-100K's share of each rating
    rating = (np.searchsorted(cuts, score) + 1).astype(np.int8)
    del score
    lo = tusers["ts_min"].to_numpy(np.int64)[tu_r]
    span = tusers["ts_max"].to_numpy(np.int64)[tu_r] - lo
    timestamp = lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64)
    del lo, span, tu_r, ti_r
    ratings = pd.DataFrame({"user_id": user + 1, "item_id": item + 1, "rating": rating, "timestamp": timestamp})
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1), "age": tusers["age"].to_numpy()[tu],
                          "gender": tusers["gender"].to_numpy()[tu], "occupation": tusers["occupation"].to_numpy()[tu],
                          "zip_code": "00000", "template_user": tusers["user_id"].to_numpy()[tu]})
    template_item = tmovies["item_id"].to_numpy()[ti]
    movies = pd.concat([pd.DataFrame({
        "item_id": np.arange(1, n_items + 1),
        "title": [f"Synthetic movie {i} (template {t})" for i, t in zip(range(1, n_items + 1), template_item)],
        "release_date": tmovies["release_date"].to_numpy()[ti]}),
        tmovies[list(GENRES)].iloc[ti].reset_index(drop=True),
        pd.DataFrame({"template_item": template_item})], axis=1)
    return Synthetic(ratings=ratings, users=users, movies=movies, seed=seed)


def write_ml100k_layout(data: Synthetic, target: Path, template: Template | None = None) -> Path:
    """``target/ml-100k/{u.data,u.user,u.item,u.genre}`` (and SYNTHETIC.txt); returns the ml-100k folder."""
    folder = Path(target) / "ml-100k"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(data.ratings, preserve_index=False)
    pacsv.write_csv(table, folder / "u.data",
                    pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"))
    users = data.users[["user_id", "age", "gender", "occupation", "zip_code"]]
    (folder / "u.user").write_text("".join(f"{u}|{a}|{g}|{o}|{z}\n" for u, a, g, o, z in users.itertuples(index=False)),
                                   encoding="latin-1")
    flags = data.movies[list(GENRES)].astype(str).agg("|".join, axis=1)
    lines = [f"{i}|{t}|{d}|||{f}\n" for i, t, d, f in zip(data.movies["item_id"], data.movies["title"],
                                                           data.movies["release_date"], flags)]
    (folder / "u.item").write_text("".join(lines), encoding="latin-1")
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n", encoding="latin-1")
    note = (f"SYNTHETIC ratings in the MovieLens 100K layout, not MovieLens data: {len(data.ratings)} ratings, "
            f"{len(data.users)} users, {len(data.movies)} movies, seed {data.seed}, drawn by "
            f"benchmarks/synthetic_ratings.py to match ML-100K's distributions")
    if template is not None and template.source_sha256:
        note += f" (template ml-100k.zip sha256 {template.source_sha256})"
    (folder / SYNTHETIC_NOTE).write_text(note + ".\n")
    return folder


def make_dataset(n_ratings: int, target: Path, seed: int = 0, template: Template | None = None) -> dict:
    """Generate and write ``n_ratings`` synthetic ratings under ``target``; what was written and how long it took."""
    template = template or load_template()
    start = time.perf_counter()
    data = generate(n_ratings, template, seed)
    generated = time.perf_counter() - start
    folder = write_ml100k_layout(data, target, template)
    return {"folder": folder, "ratings": len(data.ratings), "users": len(data.users), "items": len(data.movies),
            "generate_s": generated, "write_s": time.perf_counter() - start - generated, "data": data}


def describe(ratings: pd.DataFrame) -> dict:
    """The statistics the synthetic data is checked on (same for real and synthetic ratings)."""
    per_user = ratings.groupby("user_id").size()
    per_item = ratings.groupby("item_id").size()
    shares = np.bincount(ratings["rating"].to_numpy(), minlength=6)[1:] / len(ratings)
    user_mean = ratings.groupby("user_id")["rating"].mean()
    item_mean = ratings.groupby("item_id")["rating"].mean()[per_item >= 20]
    q = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0]
    return {"ratings": len(ratings), "users": ratings["user_id"].nunique(), "items": ratings["item_id"].nunique(),
            "mean rating": round(float(ratings["rating"].mean()), 3),
            "share 1-5": " ".join(f"{s:.3f}" for s in shares),
            "per user q10/25/50/75/90/max": "/".join(str(int(v)) for v in per_user.quantile(q)),
            "per item, share of ratings on top 10% items": round(float(
                per_item.sort_values(ascending=False).head(max(1, len(per_item) // 10)).sum() / len(ratings)), 3),
            "sd of user mean": round(float(user_mean.std()), 3),
            "sd of item mean (items >= 20 ratings)": round(float(item_mean.std()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default="1m", help="how many ratings: 20k, 1m, 10m, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write ml-100k/ into (default: a temporary folder, removed afterwards)")
    parser.add_argument("--template", type=Path, default=ML100K, help="the real ml-100k.zip the draw follows")
    parser.add_argument("--check", action="store_true",
                        help="read the files back through the project's reader and compare with ML-100K")
    args = parser.parse_args()
    n = parse_size(args.ratings)
    template = load_template(args.template)
    with tempfile.TemporaryDirectory(prefix="synthetic_ratings_") as tmp:
        target = args.out or Path(tmp)
        made = make_dataset(n, target, args.seed, template)
        print(f"{made['ratings']} synthetic ratings, {made['users']} users, {made['items']} items: generated in "
              f"{made['generate_s']:.1f} s, written in {made['write_s']:.1f} s to {made['folder']}")
        if args.check:
            from hybrid_recommender.evaluation.markdown import markdown_rows

            start = time.perf_counter()
            synthetic, _, _, skips = read_movielens(DataSource(made["folder"]))
            read_s = time.perf_counter() - start
            real, _, _, _ = read_movielens(DataSource(args.template))
            print(f"read back by the project's reader in {read_s:.1f} s: {len(skips)} skipped lines, "
                  f"{int(synthetic.duplicated(['user_id', 'item_id']).sum())} repeated (user, item) pairs")
            a, b = describe(real), describe(synthetic)
            print(markdown_rows(["", "ML-100K (real)", f"synthetic {size_label(n)}"],
                                [[k, a[k], b[k]] for k in a]))


if __name__ == "__main__":
    main()
