"""The `recommend` command: text and --json output, exit codes for fallback and bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from hybrid_recommender.cli.recommend import EXIT_COLD_START, recommend
from tests.inference.clips import background, paste, scene, write_image, write_video

pytestmark = pytest.mark.real_data


@pytest.fixture()
def run(resource_files, hybrid, monkeypatch):
    from hybrid_recommender.inference import resources as res

    monkeypatch.setattr(res, "load_recommender", lambda path: hybrid[0])
    args = [f"--{k.replace('_', '-')}={v}" for k, v in resource_files.items()]

    def invoke(*extra):
        return CliRunner().invoke(recommend, [*args, "--no-progress", *extra])
    return invoke


def test_command_on_a_real_face_prints_a_list_with_its_explanation(run, faces, tmp_path):
    frame = background()
    paste(frame, faces[2], 240, 140, 170)
    out = run("--input", str(write_image(tmp_path / "face.jpg", frame)))
    assert out.exit_code == 0, out.output
    assert "viewer 1: age" in out.output and "recommendations:" in out.output
    assert "favoured cluster" in out.output and out.output.count(" (id ") == 10
    assert "model card:" in out.output


def test_json_output_parses_with_the_documented_fields(run, faces, tmp_path):
    frames, _ = scene(faces[:2], 10, step=6)
    out = run("--input", str(write_video(tmp_path / "two.mp4", frames)), "--json", "--strategy", "least_misery",
              "-n", "5", "--detect-every", "3")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert {"schema_version", "input", "input_kind", "mode", "frames", "fps", "viewers", "recommendations",
            "explanation", "faces", "fallback", "notes", "model_card", "settings"} <= set(doc)
    assert doc["mode"] == "group" and doc["input_kind"] == "video" and len(doc["viewers"]) == 2
    viewer = doc["viewers"][0]
    assert {"viewer_id", "age_group", "age_group_confidence", "age_expected", "age_rule", "age_uncertain", "gender",
            "gender_confidence", "emotion", "emotion_detected", "emotion_confidence", "emotion_low_confidence",
            "probabilities", "contribution"} <= set(viewer)
    assert [r["rank"] for r in doc["recommendations"]] == [1, 2, 3, 4, 5]
    assert {"item_id", "title", "score"} <= set(doc["recommendations"][0])
    assert doc["explanation"]["strategy"] == "least_misery" and doc["settings"]["detect_every"] == 3


def test_no_face_exits_with_the_cold_start_code_and_says_why(run, tmp_path):
    out = run("--input", str(write_image(tmp_path / "wall.png", background())), "--age-group", "15-24",
              "--gender", "male")
    assert out.exit_code == EXIT_COLD_START, out.output
    assert "no face found" in out.output and "popularity in age group 15-24, gender male" in out.output


@pytest.mark.parametrize("name, content, message", [
    ("missing.mp4", None, "no such file"),
    ("clip.gif", b"GIF89a", "unsupported file type"),
    ("corrupt.png", b"\x89PNG\r\n\x1a\n broken", "not a readable image"),
    ("corrupt.avi", b"RIFF not really an avi" * 20, "video"),
])
def test_bad_input_exits_1_with_a_message_naming_the_file(run, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    out = run("--input", str(path))
    assert out.exit_code == 1 and message in out.output and str(path) in out.output
    assert "Traceback" not in out.output


def test_an_unopenable_camera_is_a_clear_error(run):
    out = run("--input", "57")
    assert out.exit_code == 1 and "camera 57" in out.output and "Traceback" not in out.output


def test_missing_resources_are_named(run, tmp_path):
    out = run("--input", "0", "--predictor", str(tmp_path / "nowhere"))
    assert out.exit_code == 1 and "nowhere" in out.output and "face_models" in out.output


def test_a_photo_too_small_for_any_face_gives_the_cold_start_list(run, tmp_path):
    out = run("--input", str(write_image(tmp_path / "tiny.png", background()[:1, :1])))
    assert out.exit_code == EXIT_COLD_START, out.output
    assert "no face found" in out.output and out.output.count(" (id ") == 10


def test_a_damaged_predictor_weights_file_is_one_line_naming_it(run, predictor_dir, tmp_path):
    damaged = shutil.copytree(predictor_dir, tmp_path / "predictor")
    weights = damaged / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:5])                   # a copy cut short
    out = run("--input", "0", "--predictor", str(damaged))
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.output.startswith(f"Error: {weights}: damaged") and len(out.output.strip().splitlines()) == 1


def test_an_unknown_environment_or_a_bad_setting_is_named(run, tmp_path):
    out = run("--input", "0", "--env", "nosuchenv")
    assert out.exit_code == 2 and "'--env'" in out.output and "nosuchenv" in out.output
    out = run("--input", str(write_image(tmp_path / "wall.png", background())), "--age-group", "99-100")
    assert out.exit_code == 1 and "unknown cold-start age group '99-100'" in out.output
