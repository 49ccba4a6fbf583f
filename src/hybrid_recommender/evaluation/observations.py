"""Simulated observations: a MovieLens test viewer, an emotion, and real held-out faces that carry them.

The paper ran 150 observations of viewers in front of a camera; we have none, so an observation is built from
real data: a MovieLens user of one of the paper's age groups (stratified), an emotion drawn from a configured
distribution, and a composite face: a UTKFace held-out face with the viewer's age group and gender and an
emotion data set's held-out face with the observation's emotion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm


def stratified_counts(total: int, groups: Sequence[str]) -> dict[str, int]:
    """`total` observations split as evenly as possible over the groups (the first groups get the remainder)."""
    if total < len(groups):
        raise ValueError(f"{total} observations cannot cover the {len(groups)} age groups {list(groups)}")
    base, extra = divmod(int(total), len(groups))
    return {g: base + (i < extra) for i, g in enumerate(groups)}


def sample_viewers(users: pd.DataFrame, test: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """The observations' viewers: `n_observations` MovieLens users with held-out ratings, stratified over
    `age_groups`, each with an emotion drawn from `emotion_distribution`. A group with fewer users than its
    share is cycled through again (a new permutation each pass), so a user may appear more than once."""
    rng = np.random.default_rng(int(params["seed"]))
    groups = list(params["age_groups"])
    emotions, probs = _distribution(params["emotion_distribution"])
    counts = stratified_counts(int(params["n_observations"]), groups)
    pool = users[users["user_id"].isin(test["user_id"].unique())].copy()
    pool["age_group"] = pool["age_group"].astype(str)
    rows = []
    for group in groups:
        ids = np.sort(pool.loc[pool["age_group"] == group, "user_id"].to_numpy())
        if len(ids) == 0:
            raise ValueError(f"no MovieLens user with held-out ratings in age group {group!r}; "
                             f"evaluation.age_groups must name groups of data_engineering.age_groups.labels")
        picked = np.concatenate([rng.permutation(ids) for _ in range(-(-counts[group] // len(ids)))])
        rows += [{"user_id": int(u), "age_group": group} for u in picked[:counts[group]]]
    viewers = pd.DataFrame(rows).merge(pool[["user_id", "gender"]], on="user_id", how="left")
    viewers["emotion"] = rng.choice(emotions, size=len(viewers), p=probs)
    viewers.insert(0, "obs_id", np.arange(len(viewers)))
    return viewers


def _distribution(dist: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    emotions = list(dist)
    probs = np.asarray([float(dist[e]) for e in emotions])
    if (probs < 0).any() or probs.sum() <= 0:
        raise ValueError(f"evaluation.emotion_distribution needs non-negative weights with a positive sum: {dist}")
    return emotions, probs / probs.sum()


def held_out_faces(faces: pd.DataFrame, splits: Sequence[str], label_columns: Sequence[str],
                   dataset: str) -> pd.DataFrame:
    """The first of `splits` that a face table has (e.g. test, else val), non-blank faces with every label."""
    for split in splits:
        chosen = faces[(faces["split"] == split) & ~faces["is_blank"].fillna(False).astype(bool)]
        chosen = chosen.dropna(subset=list(label_columns))
        if len(chosen):
            out = chosen.copy()
            out["age_group"] = out["age_group"].astype("string")
            return out.reset_index(drop=True)
    raise ValueError(f"{dataset}: no face in the held-out splits {list(splits)} with labels {list(label_columns)}")


def assign_faces(viewers: pd.DataFrame, age_faces: pd.DataFrame, emotion_faces: pd.DataFrame,
                 seed: int) -> pd.DataFrame:
    """Each observation's composite face: a held-out face with the viewer's age group and gender (age_faces) and
    one with the observation's emotion (emotion_faces), drawn at random (seeded) among the matching ones."""
    rng = np.random.default_rng(int(seed))
    by_person = {k: g["face_id"].to_numpy() for k, g in age_faces.groupby(["age_group", "gender"], observed=True)}
    by_emotion = {k: g["face_id"].to_numpy() for k, g in emotion_faces.groupby("emotion", observed=True)}
    age_ids, emo_ids = [], []
    for row in viewers.itertuples(index=False):
        person = by_person.get((row.age_group, row.gender))
        if person is None or not len(person):
            raise ValueError(f"no held-out {age_faces['dataset'].iloc[0]} face of a {row.gender} aged "
                             f"{row.age_group} for observation {row.obs_id}")
        mood = by_emotion.get(row.emotion)
        if mood is None or not len(mood):
            raise ValueError(f"no held-out {emotion_faces['dataset'].iloc[0]} face showing {row.emotion!r} "
                             f"for observation {row.obs_id}; drop it from evaluation.emotion_distribution")
        age_ids.append(rng.choice(person))
        emo_ids.append(rng.choice(mood))
    return viewers.assign(age_face_id=age_ids, emotion_face_id=emo_ids,
                          age_face_dataset=age_faces["dataset"].iloc[0],
                          emotion_face_dataset=emotion_faces["dataset"].iloc[0])


def predict_faces(predictor, faces: pd.DataFrame, pixels: np.ndarray, batch: int = 512) -> pd.DataFrame:
    """The predictor's most likely age group, gender and emotion (and their probabilities) for every face."""
    rows = faces["pixel_row"].to_numpy(dtype=np.int64)
    parts = {h: [] for h in predictor.labels}
    for i in tqdm(range(0, len(rows), batch), desc=f"predict {len(rows)} faces", leave=False):
        probs = predictor.predict(np.ascontiguousarray(pixels[rows[i:i + batch]]))
        for h in parts:
            parts[h].append(probs[h])
    out = faces[["face_id", "dataset", "age_group", "gender", "emotion"]].copy()
    for h, chunks in parts.items():
        p = np.concatenate(chunks) if chunks else np.zeros((0, len(predictor.labels[h])))
        out[f"pred_{h}"] = [predictor.labels[h][j] for j in p.argmax(1)] if len(p) else []
        out[f"pred_{h}_prob"] = p.max(1) if len(p) else []
    return out.reset_index(drop=True)


def attach_predictions(observations: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Predicted age group and gender from the age face, predicted emotion from the emotion face."""
    pred = predictions.set_index("face_id")
    out = observations.copy()
    for col in ("age_group", "gender"):
        out[f"pred_{col}"] = pred.loc[out["age_face_id"], f"pred_{col}"].to_numpy()
    out["pred_emotion"] = pred.loc[out["emotion_face_id"], "pred_emotion"].to_numpy()
    out["attributes_right"] = ((out["pred_age_group"] == out["age_group"]) & (out["pred_gender"] == out["gender"])
                               & (out["pred_emotion"] == out["emotion"]))
    return out
