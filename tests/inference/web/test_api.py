"""The HTTP API a mobile app calls: POST /api/recommend answers with the `recommend --json` schema and the same
viewers and films as the command on the same photo; bad requests get a 4xx JSON error and the server goes on;
the model card; and `serve` without models says what to run first."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from hybrid_recommender.cli.recommend import recommend
from hybrid_recommender.cli.serve import serve
from tests.inference.clips import background, paste, write_image, write_video
from tests.inference.web.helpers import face_frames, jpeg

pytestmark = pytest.mark.real_data

# What must be equal between the API and the command for the same photo (timings and the input's name differ).
VIEWER_FIELDS = ("viewer_id", "frames", "box", "age_group", "age_group_confidence", "age_expected", "age_rule",
                 "age_uncertain", "gender", "gender_confidence", "emotion", "emotion_detected", "emotion_confidence",
                 "emotion_low_confidence", "probabilities", "emotion_branches")


@pytest.fixture()
def photo(test_faces, tmp_path):
    frame = background()
    paste(frame, test_faces[2], 230, 120, 190)
    return write_image(tmp_path / "viewer.jpg", frame)


def command_json(resource_files, hybrid, monkeypatch, path) -> dict:
    from hybrid_recommender.inference import resources as res

    monkeypatch.setattr(res, "load_recommender", lambda p: hybrid[0])
    args = [f"--{k.replace('_', '-')}={v}" for k, v in resource_files.items()]
    out = CliRunner().invoke(recommend, [*args, "--no-progress", "--json", "--input", str(path)])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_the_api_answers_a_photo_as_the_command_does(web_server, photo, resource_files, hybrid, monkeypatch):
    with open(photo, "rb") as f:
        response = httpx.post(f"{web_server.url}/api/recommend", files={"file": ("viewer.jpg", f, "image/jpeg")},
                              timeout=60)
    assert response.status_code == 200, response.text
    api = response.json()
    cli = command_json(resource_files, hybrid, monkeypatch, photo)
    assert set(api) == set(cli) and api["schema_version"] == cli["schema_version"] == 1
    assert api["mode"] == cli["mode"] == "single_viewer" and api["input"] == "viewer.jpg"
    assert len(api["viewers"]) == len(cli["viewers"]) == 1
    for a, c in zip(api["viewers"], cli["viewers"]):
        assert {k: a[k] for k in VIEWER_FIELDS} == {k: c[k] for k in VIEWER_FIELDS}
    assert api["recommendations"] == cli["recommendations"] and len(api["recommendations"]) == 10
    for key in ("explanation", "faces", "fallback", "notes", "model_card", "settings"):
        assert api[key] == cli[key], key
    # the page's variant adds each film's year and genres, and nothing else
    details = httpx.post(f"{web_server.url}/api/recommend?movie_details=true", content=photo.read_bytes(),
                         headers={"Content-Type": "image/jpeg"}, timeout=60).json()
    for plain, detailed in zip(api["recommendations"], details["recommendations"]):
        assert {**plain, "year": detailed["year"], "genres": detailed["genres"]} == detailed
        assert isinstance(detailed["genres"], list) and detailed["genres"]


def test_a_short_video_is_read_like_the_command_reads_it_and_its_temporary_file_is_gone(web_server, test_faces,
                                                                                       tmp_path):
    frames, _ = face_frames(test_faces[0], 12, x=200, y=140, size=170)
    clip = write_video(tmp_path / "clip.mp4", frames)
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("upload-*"))
    with open(clip, "rb") as f:
        response = httpx.post(f"{web_server.url}/api/recommend", files={"file": ("clip.mp4", f, "video/mp4")},
                              timeout=60)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["input"] == "clip.mp4" and doc["input_kind"] == "video" and doc["frames"] == 12
    assert doc["mode"] == "single_viewer" and doc["viewers"][0]["frames"] == 12
    assert set(temporary.glob("upload-*")) == before


def test_a_group_strategy_and_list_length_can_be_chosen(web_server, test_faces):
    frame = background()
    for face, x in zip(test_faces[:2], (40, 360)):
        paste(frame, face, x, 140, 170)
    response = httpx.post(f"{web_server.url}/api/recommend?group_strategy=least_misery&top_n=5",
                          files={"file": ("two.jpg", jpeg(frame, 95), "image/jpeg")}, timeout=60)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["mode"] == "group" and doc["explanation"]["strategy"] == "least_misery"
    assert len(doc["recommendations"]) == 5 and all(v["contribution"] for v in doc["viewers"])


@pytest.mark.parametrize("files, query, status, message", [
    (None, "", 400, "empty request"),
    ({"file": ("", b"", "application/octet-stream")}, "", 400, "no file chosen"),
    ({"file": ("notes.txt", b"hello", "text/plain")}, "", 415, "notes.txt: unsupported file type '.txt'"),
    ({"file": ("photo.jpg", b"\xff\xd8 not really a jpeg" * 10, "image/jpeg")}, "", 422,
     "photo.jpg: not a readable image"),
    ({"file": ("clip.mp4", b"\x00\x00\x00 not a video" * 50, "video/mp4")}, "", 422, "clip.mp4"),
    ({"other": ("photo.jpg", b"abc", "image/jpeg")}, "", 400, "no 'file' field"),
    ({"file": ("photo.jpg", b"abc", "image/jpeg")}, "?group_strategy=loudest", 422, "group_strategy 'loudest'"),
    ({"file": ("photo.jpg", b"abc", "image/jpeg")}, "?top_n=0", 422, "top_n '0'"),
])
def test_bad_requests_get_a_4xx_json_error_and_the_server_goes_on(web_server, files, query, status, message):
    response = httpx.post(f"{web_server.url}/api/recommend{query}", files=files, timeout=60)
    assert response.status_code == status, response.text
    assert message in response.json()["error"] and response.json()["status"] == status
    assert "/tmp" not in response.json()["error"] and "Traceback" not in response.text
    assert httpx.get(f"{web_server.url}/api/health").json()["status"] == "ok"


def test_a_40_megapixel_photo_and_an_oversized_upload_are_refused_before_decoding(web_server, web_resources):
    from fastapi.testclient import TestClient

    from hybrid_recommender.inference import InferenceSettings
    from hybrid_recommender.web import WebOptions, create_app

    huge = jpeg(np.full((5480, 7300, 3), 128, np.uint8))
    response = httpx.post(f"{web_server.url}/api/recommend", files={"file": ("huge.jpg", huge, "image/jpeg")},
                          timeout=60)
    assert response.status_code == 413 and "7300x5480 is 40.0 megapixels" in response.json()["error"]
    # the byte limit, on an app with a 1 MB limit (in process: no 50 MB through a socket)
    small = TestClient(create_app(web_resources, InferenceSettings(), WebOptions(max_upload_mb=1)))
    for request in ({"files": {"file": ("big.jpg", b"\xff" * 2**21, "image/jpeg")}},
                    {"content": b"\xff" * 2**21, "headers": {"Content-Type": "image/jpeg"}}):
        response = small.post("/api/recommend", **request)
        assert response.status_code == 413 and "1 MB upload limit" in response.json()["error"]


def test_the_model_card_and_the_page_are_served(web_server):
    card = httpx.get(f"{web_server.url}/api/model-card").json()
    assert card["model_card"]["environment"] == "test" and "face attribute predictor" in card["description"]
    page = httpx.get(web_server.url)
    assert page.status_code == 200 and "getUserMedia" not in page.text and "/static/app.js" in page.text
    assert "getUserMedia" in httpx.get(f"{web_server.url}/static/app.js").text


def test_serve_without_models_says_what_to_run_first(tmp_path):
    out = CliRunner().invoke(serve, ["--predictor", str(tmp_path / "nowhere"), "--port", "1"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1 and "make run" in out.output and "nowhere" in out.output
