"""The web tests' and benchmark's helpers: held-out UTKFace faces, a fake camera clip (y4m) for chromium, JPEG
frames, a server on a free loopback port, and a WebSocket client that checks every reply is its own.

Nothing here is committed data: faces are read from ../shared/datasets at test time, clips go to tmp_path.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from tests.inference.clips import background, paste, real_faces

FRAME = (480, 640)                       # what the page sends


def held_out_faces(archive: Path, n: int, split_fractions: dict, skip: int = 0) -> list[np.ndarray]:
    """The first n (after ``skip``) adult UTKFace part-1 crops of the project's held-out (test) split."""
    return real_faces(archive, n, skip, split_fractions)


def face_frames(face: np.ndarray, n: int, x: int, y: int, size: int = 180, sway: int = 24,
                seed: int = 0) -> tuple[list[np.ndarray], list[tuple[int, int, int, int]]]:
    """640x480 frames of one face swaying ``sway`` px left and right (there and back, so a looped clip does not
    jump), and its box in each."""
    frames, boxes = [], []
    half = n // 2
    for t in range(n):
        dx = round(sway * (t if t < half else n - t) / max(1, half)) - sway // 2
        frame = background(FRAME, seed)
        boxes.append(paste(frame, face, x + dx, y, size))
        frames.append(frame)
    return frames, boxes


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """A YUV4MPEG2 clip (4:2:0), what chromium's --use-file-for-fake-video-capture plays in a loop."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def browser_with_camera(playwright, clip: Path):
    """Debian's headless chromium (never `playwright install`) whose camera plays ``clip`` and whose permission
    prompt says yes by itself."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        raise RuntimeError(f"{chromium} not found: apt-get install -y chromium (.ci/run does it)")
    return playwright.chromium.launch(executable_path=chromium, headless=True, args=[
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}", "--no-sandbox", "--disable-gpu", "--mute-audio"])


def jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(options: list[str], log: Path, cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """``hybrid-recommender serve OPTIONS`` as its own process on a free port, its output to ``log``; returns
    (process, url) once it answers (for the benchmark and the docs' screenshot)."""
    import httpx

    from hybrid_recommender.paths import PROJECT_ROOT

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "hybrid_recommender", "serve", "--port", str(port),
                                   *options], cwd=cwd or PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"{url}/api/health", timeout=1)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"serve did not start:\n{log.read_text()}")


class LocalServer:
    """The app served by uvicorn in a thread of this process, on a free 127.0.0.1 port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="web-test-server", daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the test server did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class CameraClient:
    """A Python stand-in for the page: sends JPEG frames over /api/live, one in flight, and checks that every
    reply is for its own session and its own frame (and, given boxes, that they sit on its own face)."""

    def __init__(self, url: str, name: str):
        from websockets.sync.client import connect

        self.name = name
        self._closing = contextlib.ExitStack()
        self.socket = self._closing.enter_context(connect(url.replace("http://", "ws://") + "/api/live",
                                                          max_size=2**24))
        ready = self.receive()
        assert ready["type"] == "ready", ready
        self.session = ready["session"]
        self.sent = 0
        self.replies: list[dict] = []
        self.problems: list[str] = []

    def receive(self) -> dict:
        import json

        return json.loads(self.socket.recv(timeout=60))

    def choose(self, **choice) -> dict:
        import json

        self.socket.send(json.dumps({"type": "settings", **choice}))
        return self.receive()

    def send(self, frame_jpeg: bytes, expected_box=None) -> dict:
        started = time.perf_counter()
        self.socket.send(frame_jpeg)
        self.sent += 1
        reply = self.receive()
        reply["round_trip_ms"] = (time.perf_counter() - started) * 1000      # as the client sees it
        self.replies.append(reply)
        if reply.get("type") != "frame":
            self.problems.append(f"{self.name} frame {self.sent}: {reply}")
        elif reply["session"] != self.session or reply["frame"] != self.sent:
            self.problems.append(f"{self.name}: reply for session {reply['session']} frame {reply['frame']}, "
                                 f"expected {self.session} frame {self.sent}")
        elif expected_box is not None:
            for face in reply["faces"]:
                if iou(face["box"], expected_box) < 0.3:
                    self.problems.append(f"{self.name} frame {self.sent}: box {face['box']} is not on its face "
                                         f"{expected_box}")
        return reply

    def close(self) -> None:
        self._closing.close()


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
