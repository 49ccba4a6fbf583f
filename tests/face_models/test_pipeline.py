"""The pipeline is registered with named nodes, and its nodes run end to end on small real data (smoke settings),
including empty RAF-DB/AFEW tables."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_recommender.pipelines.face_models import create_pipeline, nodes
from tests.face_models.conftest import empty_table, face_model_params

AGE_GROUPS = {"edges": [0, 8, 15, 25, 38, 48, 200], "labels": ["0-7", "8-14", "15-24", "25-37", "38-47", "48+"],
              "viewers": ["8-14", "15-24", "25-37", "38-47"]}


def _params():
    params = face_model_params("smoke")
    params["tracking"] = False
    params["frame_cnn"].update({"max_steps": 3, "train_limit": 120, "backbones": ["face_vgg_xs"]})
    params["video"]["lstm"]["frame_models"] = ["face_vgg_xs"]
    params["video"]["max_sequences_per_split"] = 12
    return params


def test_pipeline_nodes_are_named_and_wired():
    pipe = create_pipeline()
    names = {n.name for n in pipe.nodes}
    assert {"train_frame_cnns", "train_cnn_svm_branch", "train_lstm_branch", "fuse_video_branches",
            "save_face_attribute_predictor"} <= names
    assert "face_attribute_predictor" in pipe.all_outputs()
    assert {"fer2013_pixels", "utkface_faces", "ckplus_faces", "afew_pixels", "rafdb_faces"} <= pipe.inputs()


def test_environments_share_one_code_path_and_differ_in_single_keys():
    paper, cpu, fast, base = (face_model_params(env) for env in ("paper", "cpu", "fast", "local"))
    assert paper["frame_cnn"]["backbones"] == ["inception_v3", "densenet121", "densenet161", "densenet201"]
    assert paper["video"]["lstm"]["frame_models"] == ["vgg16"] and paper["preprocessing"]["crop_size"] == 224
    assert paper["frame_cnn"]["class_weight_power"] == 0.5 and base["frame_cnn"]["class_weight_power"] == 0.0
    assert {e["hardware"]["accelerator"] for e in (paper, cpu, fast)} == {"auto"}
    # make run trains the small net: in the same minutes on an AVX2 CPU it gets 3.5x the epochs and more accuracy
    assert cpu["frame_cnn"]["backbones"] == ["face_vgg_s"] and fast["frame_cnn"]["backbones"] == ["face_vgg_xs"]
    assert fast["video"]["lstm"]["frame_models"] == fast["frame_cnn"]["backbones"]
    def epochs(env, group):
        return {**env["frame_cnn"], **env["frame_cnn"]["group_overrides"][group]}["max_epochs"]

    def group_cfg(env, group):
        return {**env["frame_cnn"], **env["frame_cnn"]["group_overrides"][group]}

    for group in ("emotion", "gender_age_group"):
        assert epochs(cpu, group) > epochs(fast, group)
        # fast and cpu are sized by time budgets on the machine that runs them; paper keeps its epochs
        assert group_cfg(cpu, group)["budget_minutes"] > group_cfg(fast, group)["budget_minutes"] > 0
        assert not group_cfg(paper, group)["budget_minutes"]
    # precision and memory format come from the hardware in every environment unless one is set
    assert {e["frame_cnn"]["precision"] for e in (paper, cpu, fast, base)} == {"auto"}
    assert {e["frame_cnn"]["channels_last"] for e in (paper, cpu, fast, base)} == {"auto"}
    assert base["num_threads"] == "auto"
    assert cpu["frame_cnn"]["head_groups"] == [["emotion"], ["gender", "age_group"]]
    # cpu sets only the crop (44 px of the 48 px face); the soft merge keeps base's other preprocessing keys
    assert cpu["preprocessing"] == {**base["preprocessing"], "crop_size": 44} and fast["preprocessing"] == base["preprocessing"]
    assert fast["video"] == {**base["video"], "lstm": {**base["video"]["lstm"], "max_epochs": 20, "cv_max_epochs": 10,
                                                       "hidden_sizes": [128], "frame_models": ["face_vgg_xs"]}}
    assert {e["environment"] for e in (paper, cpu, fast, base)} == {"paper", "cpu", "fast", "base"}


@pytest.mark.real_data
@pytest.mark.slow
def test_nodes_run_end_to_end_on_small_real_data(tmp_path, fer_small, utk_small, ckplus_table):
    params = _params()
    params["workdir"] = str(tmp_path / "work")
    raf, afew = empty_table(), empty_table()
    utk_mtcnn, report = nodes.reframe_with_mtcnn(*utk_small, {**params, "framing": {**params["framing"], "reframe": True}})
    assert utk_mtcnn.shape == utk_small[1].shape and report["found_fraction"].iloc[0] > 0.9
    frame_cnns, metrics, figures = nodes.train_frame_cnns(*fer_small, *utk_small, utk_mtcnn, *ckplus_table, *raf,
                                                          params, AGE_GROUPS, True)
    assert set(metrics["dataset"]) == {"fer2013", "utkface", "ckplus"}
    assert {"source/centre_crop", "mtcnn/centre_crop"} <= set(metrics["variant"])
    assert any(k.endswith(".png") for k in figures)
    # one network per head group, each trained only on the data sets that label its heads
    models = frame_cnns["models"]
    assert set(models) == {"face_vgg_xs_emotion", "face_vgg_xs_gender_age_group"}
    assert set(models["face_vgg_xs_emotion"]["train_faces"]) == {"fer2013", "ckplus"}
    assert set(models["face_vgg_xs_gender_age_group"]["train_faces"]) == {"utkface"}
    assert set(models["face_vgg_xs_gender_age_group"]["net"].classes) == {"gender", "age_group"}
    assert set(metrics.loc[metrics["attribute"] == "emotion", "model"]) == {"face_vgg_xs_emotion"}
    assert set(metrics.loc[metrics["attribute"] != "emotion", "model"]) == {"face_vgg_xs_gender_age_group"}
    # gender per age group, and over the paper's viewers (8-47): the faces of the split in those four groups
    gender = metrics[(metrics["attribute"] == "gender") & (metrics["variant"] == "mtcnn/centre_crop")]
    assert len(gender) == 2
    for _, row in gender.iterrows():          # the evaluated faces hold children and over-47s too
        assert 0 < row["n_viewer_ages"] < row["n"]
        per_group = [row[f"accuracy_age_{g}"] for g in AGE_GROUPS["viewers"] if not np.isnan(row[f"accuracy_age_{g}"])]
        assert min(per_group) - 1e-9 <= row["accuracy_viewer_ages"] <= max(per_group) + 1e-9
    assert metrics.loc[metrics["dataset"] == "fer2013", "accuracy_viewer_ages"].isna().all()   # FER2013 has no ages
    sequences = nodes.build_emotion_sequences(*ckplus_table, *afew, params)
    assert (sequences.table["n_frames"] == 3).all() and set(sequences.table["split"]) == {"train", "val", "test"}
    features = nodes.extract_sequence_features(frame_cnns, sequences, params)
    cnn = nodes.train_cnn_branch(features, sequences, params)
    lstm = nodes.train_lstm_branch(features, sequences, params)
    assert set(cnn) == {"svm_face_vgg_xs_emotion_l2", "svm_face_vgg_xs_emotion_minmax"}
    assert set(lstm) == {"lstm128_face_vgg_xs_emotion", "lstm256_face_vgg_xs_emotion"}
    fusion, video_metrics, _ = nodes.fuse_branches(cnn, lstm, sequences, params)
    assert sum(fusion["branch_weights"].values()) == pytest.approx(1.0)
    assert {"cnn_branch", "lstm_branch", "fused"} <= set(video_metrics["model"])
    predictor = nodes.assemble_predictor(frame_cnns, cnn, lstm, fusion, params)
    out = predictor.predict_sequence(ckplus_table[1][:3])
    assert out["emotion"].shape == (7,) and np.isclose(out["emotion"].sum(), 1.0)
    assert predictor.model_card["environment"] == "smoke"
    # what each network got: the precision chosen for this machine, and its schedule planned and trained
    for net_card in predictor.model_card["networks"].values():
        assert net_card["precision"] in ("32-true", "bf16-mixed") and net_card["cpu_capability"]
        assert net_card["trained_steps"] == net_card["planned_steps"] == 3 and net_card["schedule_completed"]
    # the card gives each data set's validation accuracy, never a mean of FER2013 and CK+ (the easy one)
    card = predictor.model_card["validation_accuracy"]
    for dataset, split in (("fer2013", "FER2013 val"), ("ckplus", "CK+ val")):
        row = metrics[(metrics["model"] == "face_vgg_xs_emotion") & (metrics["dataset"] == dataset)
                      & (metrics["split"] == "val") & (metrics["variant"] == "source/centre_crop")]
        assert card[f"face_vgg_xs_emotion emotion {split} (centre crop)"] == round(float(row["accuracy"].item()), 4)
    assert predictor.frame_model_weights == {"face_vgg_xs_emotion": {"emotion": 1.0},
                                             "face_vgg_xs_gender_age_group": {"gender": 1.0, "age_group": 1.0}}
    assert predictor.predict(utk_small[1][:2])["age_group"].shape == (2, 6)
    summary = nodes.summarise_face_models(metrics, video_metrics)
    assert set(summary["dataset"]) == {"fer2013", "utkface", "ckplus"}        # no AFEW row without AFEW data
    assert (summary.loc[summary["dataset"] == "ckplus", "paper"] == "-").all()  # CK+ is never shown as AFEW
    assert "fer2013/test/emotion_accuracy_centre" in nodes.face_models_metrics(summary)


@pytest.mark.real_data
@pytest.mark.parametrize("overrides, message", [
    ({"emotion": {"init_from": "gender_age_group"}}, "must name a head group listed earlier"),
    ({"gender_age": {"max_epochs": 2}}, "not head groups"),
])
def test_head_group_settings_that_cannot_work_are_refused_by_name(tmp_path, fer_small, utk_small, ckplus_table,
                                                                   overrides, message):
    params = _params()
    params["workdir"] = str(tmp_path / "work")
    params["frame_cnn"]["group_overrides"] = overrides
    raf = empty_table()
    with pytest.raises(ValueError, match=message):
        nodes.train_frame_cnns(*fer_small, *utk_small, utk_small[1], *ckplus_table, *raf, params, AGE_GROUPS, True)
