"""Observations: stratified viewers, composite faces whose labels match the viewer, predictions looked up."""

from __future__ import annotations

import pytest

from hybrid_recommender.evaluation import observations as obs_mod
from hybrid_recommender.pipelines.evaluation import nodes
from tests.evaluation.conftest import AGE_RULE
from tests.face_models.conftest import empty_table


@pytest.mark.real_data
def test_sampler_gives_the_configured_count_per_age_group_and_is_seeded(split, params):
    _, test, users, _ = split
    cfg = {**params, "n_observations": 30}
    viewers = obs_mod.sample_viewers(users, test, cfg)
    assert len(viewers) == 30 and list(viewers["obs_id"]) == list(range(30))
    assert viewers.groupby("age_group").size().to_dict() == {"8-14": 8, "15-24": 8, "25-37": 7, "38-47": 7}
    truth = users.set_index("user_id").loc[viewers["user_id"]]
    assert (truth["age_group"].astype(str).to_numpy() == viewers["age_group"].to_numpy()).all()
    assert (truth["gender"].to_numpy() == viewers["gender"].to_numpy()).all()
    assert set(viewers["emotion"]) <= set(params["emotion_distribution"])
    assert set(viewers["user_id"]) <= set(test["user_id"])
    assert viewers.equals(obs_mod.sample_viewers(users, test, cfg))
    # 8-14 has 10 users: 40 observations per group cycles through them, each at most 4 times
    big = obs_mod.sample_viewers(users, test, {**cfg, "n_observations": 160})
    assert big[big["age_group"] == "8-14"].groupby("user_id").size().max() == 4
    only_happy = obs_mod.sample_viewers(users, test, {**cfg, "emotion_distribution": {"happy": 1, "sad": 0}})
    assert set(only_happy["emotion"]) == {"happy"}


@pytest.mark.real_data
def test_sampler_rejects_bad_configuration_with_a_clear_message(split, params):
    _, test, users, _ = split
    with pytest.raises(ValueError, match="cannot cover the 4 age groups"):
        obs_mod.sample_viewers(users, test, {**params, "n_observations": 3})
    with pytest.raises(ValueError, match="no MovieLens user .* '99-100'"):
        obs_mod.sample_viewers(users, test, {**params, "age_groups": ["99-100"]})


@pytest.mark.real_data
@pytest.mark.slow
def test_composite_faces_match_the_viewer_and_carry_the_predictors_labels(split, params, tiny_predictor,
                                                                          utk_small, fer_small, ckplus_table):
    _, test, users, _ = split
    viewers = obs_mod.sample_viewers(users, test, params)
    predictions = nodes.held_out_face_predictions(tiny_predictor, *utk_small, *fer_small, *empty_table(), params,
                                                  AGE_RULE)
    # only test faces: UTKFace's test split and FER2013's PublicTest (test under the carved protocol), never val
    age = predictions[predictions["role"] == "age"]
    assert set(age["face_id"]) <= set(utk_small[0].loc[utk_small[0]["split"] == "test", "face_id"])
    assert set(age["age_group"]) <= set(params["age_groups"])
    emo = predictions[predictions["role"] == "emotion"]
    assert set(emo["face_id"]) <= set(fer_small[0].loc[fer_small[0]["split"] == "test", "face_id"])
    assert emo["face_id"].str.contains("PublicTest").all()
    tracks = nodes.held_out_track_predictions(tiny_predictor, *ckplus_table, *empty_table(), *fer_small,
                                              *empty_table(), params)
    ck = ckplus_table[0]
    test_subjects = set(ck.loc[ck["split"] == "test", "subject"])
    sequences = tracks[tracks["kind"] == "sequence"]
    assert set(sequences["subject"]) <= test_subjects and len(sequences) == ck.loc[
        (ck["split"] == "test") & (ck["emotion"] != "contempt"), "sequence_id"].nunique()
    stills = tracks[tracks["kind"] != "sequence"]                  # CK+ has no neutral: FER2013 test stills
    assert set(stills["emotion"]) == {"neutral"} and (stills["frames"] == 1).all()
    assert {"pred_age_group", "pred_gender", "pred_emotion"} <= set(predictions.columns)
    assert set(predictions["pred_emotion"]) <= set(tiny_predictor.labels["emotion"])

    # viewers whose (age group, gender) has a face in this small set
    have = set(map(tuple, age[["age_group", "gender"]].drop_duplicates().to_numpy()))
    have_emotion = set(emo["emotion"])
    ok = viewers[[(a, g) in have and e in have_emotion
                  for a, g, e in zip(viewers["age_group"], viewers["gender"], viewers["emotion"])]]
    assert len(ok) >= 3
    observed = nodes.evaluation_observations(ok, predictions, tracks, params)
    faces = predictions.drop_duplicates("face_id").set_index("face_id")
    assert (faces.loc[observed["age_face_id"], "age_group"].to_numpy() == observed["age_group"].to_numpy()).all()
    assert (faces.loc[observed["age_face_id"], "gender"].to_numpy() == observed["gender"].to_numpy()).all()
    assert (faces.loc[observed["emotion_face_id"], "emotion"].to_numpy() == observed["emotion"].to_numpy()).all()
    assert (faces.loc[observed["emotion_face_id"], "pred_emotion"].to_numpy() == observed["pred_emotion"]).all()
    assert observed.equals(nodes.evaluation_observations(ok, predictions, tracks, params))
    by_track = tracks.set_index("track_id")
    assert (by_track.loc[observed["emotion_track_id"], "emotion"].to_numpy() == observed["emotion"].to_numpy()).all()
    assert (by_track.loc[observed["emotion_track_id"], "video_emotion"].to_numpy()
            == observed["video_emotion"].to_numpy()).all()

    no_teens = predictions[~((predictions["role"] == "age") & (predictions["age_group"] == "8-14"))]
    with pytest.raises(ValueError, match="no held-out utkface face of a (male|female) aged 8-14"):
        nodes.evaluation_observations(viewers[viewers["age_group"] == "8-14"], no_teens, tracks, params)
