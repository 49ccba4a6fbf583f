"""Simulated observations: a MovieLens test viewer, an emotion, and real held-out faces that carry them.

The paper ran 150 observations of viewers in front of a camera; we have none, so an observation is built from
real data: a MovieLens user of one of the paper's age groups (stratified), an emotion drawn from a configured
distribution, and a composite face: a UTKFace test face with the viewer's age group and gender and an emotion
data set's test face with the observation's emotion (the *still* path), plus a test face *track* showing the
emotion, read through the predictor's video path (both branches, fused): a held-out CK+ (or AFEW) test-subject
sequence, or, for an emotion no sequence shows (CK+ has no neutral), the still face as a one-frame track.

Only test splits are used: nothing any model or setting was chosen on (train, val) is ever scored here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.face_models.age_choice import choose_age_groups


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


TEST = "test"


def held_out_faces(faces: pd.DataFrame, label_columns: Sequence[str], dataset: str) -> pd.DataFrame:
    """A face table's test faces (non-blank, with every label): the split nothing was chosen on."""
    chosen = faces[(faces["split"] == TEST) & ~faces["is_blank"].fillna(False).astype(bool)]
    chosen = chosen.dropna(subset=list(label_columns))
    if chosen.empty:
        raise ValueError(f"{dataset}: no test face with labels {list(label_columns)}; evaluation scores test faces "
                         f"only (data_engineering's face_splits.csv lists each data set's splits)")
    out = chosen.copy()
    out["age_group"] = out["age_group"].astype("string")
    return out.reset_index(drop=True)


def held_out_tracks(faces: pd.DataFrame, emotions: Sequence[str]) -> pd.DataFrame:
    """Test-split sequences (one row each) showing one of ``emotions``: track_id, dataset, emotion, subject and
    the pixel rows of its frames in frame order."""
    seq = faces[(faces["split"] == TEST) & faces["sequence_id"].notna() & faces["emotion"].isin(list(emotions))]
    seq = seq.sort_values(["sequence_id", "frame_index"])
    tracks = seq.groupby("sequence_id", sort=True).agg(
        dataset=("dataset", "first"), emotion=("emotion", "first"), subject=("subject", "first"),
        pixel_rows=("pixel_row", list)).reset_index().rename(columns={"sequence_id": "track_id"})
    tracks["emotion"] = tracks["emotion"].astype(str)
    tracks["kind"] = "sequence"
    return tracks


def still_tracks(faces: pd.DataFrame) -> pd.DataFrame:
    """Still faces as one-frame tracks (predict_sequence reads a still as a one-frame sequence)."""
    return pd.DataFrame({"track_id": faces["face_id"].astype(str), "dataset": faces["dataset"].astype(str),
                         "emotion": faces["emotion"].astype(str), "subject": None,
                         "pixel_rows": [[int(r)] for r in faces["pixel_row"]], "kind": "one-frame still"})


VIDEO_COLUMNS = {"fused": "video_emotion", "cnn_branch": "video_emotion_cnn_branch",
                 "lstm_branch": "video_emotion_lstm_branch"}


def predict_tracks(predictor, tracks: pd.DataFrame, pixels: np.ndarray, desc: str) -> pd.DataFrame:
    """The video path's emotion for every track: fused and each branch (empty where the predictor has none)."""
    labels = list(predictor.labels["emotion"])
    rows = []
    for rows_of_track in tqdm(tracks["pixel_rows"], desc=desc, leave=False):
        out = predictor.predict_sequence(np.ascontiguousarray(pixels[np.asarray(rows_of_track, np.int64)]))
        probs = {"fused": out["emotion"], **out["branches"]}
        rows.append({col: labels[int(np.argmax(probs[k]))] if k in probs else None
                     for k, col in VIDEO_COLUMNS.items()}
                    | {"video_emotion_prob": float(np.max(out["emotion"])), "frames": len(rows_of_track)})
    return pd.concat([tracks.drop(columns="pixel_rows").reset_index(drop=True),
                      pd.DataFrame(rows, index=range(len(tracks)))], axis=1)


def assign_tracks(observations: pd.DataFrame, tracks: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each observation's face track: a test sequence showing its emotion, drawn at random (seeded); where no
    sequence shows it, its own still emotion face as a one-frame track."""
    rng = np.random.default_rng(int(seed))
    sequences = tracks[tracks["kind"] == "sequence"]
    by_emotion = {k: g["track_id"].to_numpy() for k, g in sequences.groupby("emotion")}
    ids = [rng.choice(by_emotion[e]) if e in by_emotion else still
           for e, still in zip(observations["emotion"], observations["emotion_face_id"])]
    info = tracks.set_index("track_id")
    missing = sorted(set(ids) - set(info.index))
    if missing:
        raise ValueError(f"no predicted track for {missing[:3]}: the track predictions must cover every still "
                         f"emotion face of an emotion no sequence shows")
    return observations.assign(emotion_track_id=ids, emotion_track_dataset=info.loc[ids, "dataset"].to_numpy(),
                               emotion_track_kind=info.loc[ids, "kind"].to_numpy(),
                               **{c: info.loc[ids, c].to_numpy() for c in VIDEO_COLUMNS.values()})


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


def predict_faces(predictor, faces: pd.DataFrame, pixels: np.ndarray, batch: int = 512,
                  age_rule: Mapping | None = None) -> pd.DataFrame:
    """The predictor's gender and emotion (most likely, with their probabilities) for every face, and its age
    group as inference chooses it (:mod:`hybrid_recommender.face_models.age_choice`, ``age_rule``: the settings
    of ``inference.age_choice``), with the expected age and the rule that chose the group."""
    rows = faces["pixel_row"].to_numpy(dtype=np.int64)
    parts = {h: [] for h in predictor.labels}
    expected = []
    for i in tqdm(range(0, len(rows), batch), desc=f"predict {len(rows)} faces", leave=False):
        probs = predictor.predict(np.ascontiguousarray(pixels[rows[i:i + batch]]))
        for h in parts:
            parts[h].append(probs[h])
        if "age_expected" in probs:
            expected.append(probs["age_expected"])
    out = faces[["face_id", "dataset", "age_group", "gender", "emotion"]].copy()
    for h, chunks in parts.items():
        p = np.concatenate(chunks) if chunks else np.zeros((0, len(predictor.labels[h])))
        out[f"pred_{h}"] = [predictor.labels[h][j] for j in p.argmax(1)] if len(p) else []
        out[f"pred_{h}_prob"] = p.max(1) if len(p) else []
        if h == "age_group":
            ages = np.concatenate(expected) if expected else None
            chosen = choose_age_groups(p, predictor.labels[h], ages, age_rule, getattr(predictor, "age_edges", None))
            out["pred_age_group"] = [c.group for c in chosen]
            out["pred_age_group_prob"] = [c.probability for c in chosen]
            out["pred_age_rule"] = [c.rule for c in chosen]
            out["pred_age_expected"] = ages if ages is not None else np.nan
    return out.reset_index(drop=True)


def attach_predictions(observations: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Predicted age group and gender from the age face, predicted emotion from the emotion face."""
    pred = predictions.set_index("face_id")
    out = observations.copy()
    for col in ("age_group", "gender"):
        out[f"pred_{col}"] = pred.loc[out["age_face_id"], f"pred_{col}"].to_numpy()
    out["pred_emotion"] = pred.loc[out["emotion_face_id"], "pred_emotion"].to_numpy()
    person_right = (out["pred_age_group"] == out["age_group"]) & (out["pred_gender"] == out["gender"])
    out["attributes_right"] = person_right & (out["pred_emotion"] == out["emotion"])
    if "video_emotion" in out:
        out["attributes_right_video"] = person_right & (out["video_emotion"] == out["emotion"])
    return out
