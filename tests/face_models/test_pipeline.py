"""The pipeline is registered with named nodes, and its nodes run end to end on small real data (smoke settings),
including empty RAF-DB/AFEW tables."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.face_models import create_pipeline
from hybrid_recommender.pipelines.face_models import nodes
from tests.face_models.conftest import SMALL, empty_table


def _params():
    base = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_face_models.yml").read_text())["face_models"]
    params = copy.deepcopy(base)
    params.update({"smoke": True, "tracking": False})
    params["preprocessing"].update(SMALL)
    params["smoke_overrides"]["frame_cnn"].update({"max_steps": 3, "train_limit": 120})
    params["smoke_overrides"]["video"].update({"max_sequences_per_split": 12})
    return params


def test_pipeline_nodes_are_named_and_wired():
    pipe = create_pipeline()
    names = {n.name for n in pipe.nodes}
    assert {"train_frame_cnns", "train_cnn_svm_branch", "train_lstm_branch", "fuse_video_branches",
            "save_face_attribute_predictor"} <= names
    assert "face_attribute_predictor" in pipe.all_outputs()
    assert {"fer2013_pixels", "utkface_faces", "ckplus_faces", "afew_pixels", "rafdb_faces"} <= pipe.inputs()


def test_paper_and_fast_parameters_name_the_paper_backbones():
    paper = yaml.safe_load((PROJECT_ROOT / "conf/paper/parameters_face_models.yml").read_text())["face_models"]
    assert paper["frame_cnn"]["backbones"] == ["inception_v3", "densenet121", "densenet161", "densenet201"]
    assert paper["video"]["lstm"]["frame_models"] == ["vgg16"] and paper["preprocessing"]["crop_size"] == 224
    base = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_face_models.yml").read_text())["face_models"]
    assert base["frame_cnn"]["class_weight_power"] == 0.5 and base["video"]["lstm"]["hidden_sizes"] == [128, 256]


@pytest.mark.real_data
@pytest.mark.slow
def test_nodes_run_end_to_end_on_small_real_data(tmp_path, fer_small, utk_small, ckplus_table):
    params = _params()
    params["workdir"] = str(tmp_path / "work")
    params["framing"]["cache_dir"] = str(tmp_path / "mtcnn_cache")
    raf, afew = empty_table(), empty_table()
    utk_mtcnn, report = nodes.reframe_with_mtcnn(*utk_small, {**params, "smoke": False,
                                                              "framing": {**params["framing"], "reframe": True}})
    assert utk_mtcnn.shape == utk_small[1].shape and report["found_fraction"].iloc[0] > 0.9
    frame_cnns, metrics, figures = nodes.train_frame_cnns(*fer_small, *utk_small, utk_mtcnn, *ckplus_table, *raf,
                                                          params, True)
    assert set(metrics["dataset"]) == {"fer2013", "utkface", "ckplus"}
    assert {"source/centre_crop", "mtcnn/centre_crop"} <= set(metrics["variant"])
    assert any(k.endswith(".png") for k in figures)
    sequences = nodes.build_emotion_sequences(*ckplus_table, *afew, params)
    assert (sequences.table["n_frames"] == 3).all() and set(sequences.table["split"]) == {"train", "val", "test"}
    features = nodes.extract_sequence_features(frame_cnns, sequences, params)
    cnn = nodes.train_cnn_branch(features, sequences, params)
    lstm = nodes.train_lstm_branch(features, sequences, params)
    assert set(cnn) == {"svm_regnetx_002_l2", "svm_regnetx_002_minmax"}
    assert set(lstm) == {"lstm128_regnetx_002", "lstm256_regnetx_002"}
    fusion, video_metrics, _ = nodes.fuse_branches(cnn, lstm, sequences, params)
    assert sum(fusion["branch_weights"].values()) == pytest.approx(1.0)
    assert {"cnn_branch", "lstm_branch", "fused"} <= set(video_metrics["model"])
    predictor = nodes.assemble_predictor(frame_cnns, cnn, lstm, fusion, params)
    out = predictor.predict_sequence(ckplus_table[1][:3])
    assert out["emotion"].shape == (7,) and np.isclose(out["emotion"].sum(), 1.0)
    summary = nodes.log_summary(metrics, video_metrics)
    assert len(summary) > 5
