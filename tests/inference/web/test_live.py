"""The live camera's server side: a session follows and reads its viewers, remakes the list only when the
audience or its mood changes, takes the page's choices; and several cameras at once never mix up frames."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from hybrid_recommender.inference import InferenceSettings
from hybrid_recommender.web import WebOptions
from hybrid_recommender.web.live import LiveSession
from tests.inference.clips import background, paste
from tests.inference.web.helpers import CameraClient, face_frames, jpeg

pytestmark = pytest.mark.real_data

CLIENTS_SECONDS = 8          # the benchmark runs 4 clients for 30 s (benchmarks/web_latency.py)


def test_a_session_reads_its_viewers_and_remakes_the_list_only_when_the_audience_changes(web_resources, test_faces):
    session = LiveSession("s1", web_resources, InferenceSettings(), WebOptions())
    one, _ = face_frames(test_faces[0], 12, x=60, y=150, size=160)
    replies = [session.process(jpeg(f)) for f in one]
    lists = [r["list"] for r in replies if r["list"]]
    assert replies[0]["faces"] and replies[0]["faces"][0]["viewer"] is None        # seen, not read yet
    assert replies[-1]["faces"][0]["viewer"]["age_group"] and replies[-1]["frame"] == 12
    assert lists and lists[0]["mode"] == "single_viewer" and len(lists[0]["recommendations"]) == 10
    assert len(lists) < len(replies) / 2                                             # not every frame
    assert {"year", "genres"} <= set(lists[0]["recommendations"][0])

    # a second viewer comes in: a group list at the next reading, with each viewer's contribution
    two = []
    for frame in one[:10]:
        frame = frame.copy()
        paste(frame, test_faces[1], 420, 150, 160)
        two.append(frame)
    group = [r["list"] for r in (session.process(jpeg(f)) for f in two) if r["list"]]
    assert group and group[-1]["mode"] == "group" and len(group[-1]["viewers"]) == 2
    assert all(v["contribution"] for v in group[-1]["viewers"])
    assert session.choose(group_strategy="least_misery")["group_strategy"] == "least_misery"
    after = session.process(jpeg(two[-1]))
    assert after["list"]["explanation"]["strategy"] == "least_misery"
    # everybody leaves: the cold-start list, said to be one
    empty = [session.process(jpeg(background()))["list"] for _ in range(20)]
    cold = [doc for doc in empty if doc]
    assert cold and cold[-1]["mode"] == "cold_start" and cold[-1]["fallback"]["reason"] == "no face found"


def test_bad_frames_and_choices_are_answered_with_an_error_and_the_session_goes_on(web_server, test_faces):
    client = CameraClient(web_server.url, "bad")
    try:
        client.socket.send(b"definitely not a jpeg")
        assert "camera frame: not a readable image" in client.receive()["error"]
        assert "group_strategy 'loudest'" in client.choose(group_strategy="loudest")["error"]
        client.sent = 1                    # the unreadable frame counts: answers stay in step
        frames, boxes = face_frames(test_faces[0], 4, x=200, y=150)
        for frame, box in zip(frames, boxes):
            client.send(jpeg(frame), box)
        assert not client.problems, client.problems
    finally:
        client.close()


def test_four_cameras_at_once_each_get_only_their_own_frames(web_server, test_faces):
    """Four clients, each its own face at its own place, for a few seconds: no error, every reply is for the
    client's own session and frame, and every box sits on the client's own face."""
    spots = [(30, 30), (400, 30), (30, 260), (400, 260)]
    clients = [CameraClient(web_server.url, f"client{k}") for k in range(4)]
    assert len({c.session for c in clients}) == 4
    assert httpx.get(f"{web_server.url}/api/health").json()["live_sessions"] == 4

    def run(client: CameraClient, k: int) -> None:
        frames, boxes = face_frames(test_faces[k], 10, *spots[k], size=170, sway=16, seed=k)
        encoded = [jpeg(f) for f in frames]
        deadline = time.monotonic() + CLIENTS_SECONDS
        while time.monotonic() < deadline:
            t = client.sent % len(encoded)
            client.send(encoded[t], boxes[t])

    threads = [threading.Thread(target=run, args=(c, k)) for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=CLIENTS_SECONDS + 120)
    try:
        problems = [p for c in clients for p in c.problems]
        assert not problems, problems[:5]
        for c in clients:
            assert len(c.replies) >= 10, f"{c.name}: only {len(c.replies)} frames in {CLIENTS_SECONDS} s"
            lists = [r["list"] for r in c.replies if r["list"]]
            assert lists and lists[-1]["mode"] == "single_viewer", c.name
            assert all(r["faces"] for r in c.replies[5:]), f"{c.name}: lost its face"
    finally:
        for c in clients:
            c.close()
    deadline = time.monotonic() + 10
    while httpx.get(f"{web_server.url}/api/health").json()["live_sessions"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{web_server.url}/api/health").json()["live_sessions"] == 0


def test_frames_are_written_only_when_the_server_was_asked_to(web_resources, test_faces, tmp_path):
    frames, _ = face_frames(test_faces[0], 3, x=200, y=150)
    for options, written in ((WebOptions(), 0), (WebOptions(save_frames_dir=str(tmp_path / "saved")), 3)):
        session = LiveSession("s2", web_resources, InferenceSettings(), options)
        for frame in frames:
            session.process(jpeg(frame))
        assert len(list(tmp_path.rglob("*.jpg"))) == written
    assert sorted(p.name for p in (tmp_path / "saved" / "s2").iterdir()) == ["000000.jpg", "000001.jpg", "000002.jpg"]
