"""The web platform: one page (static HTML + JS, no build step) and a small JSON API over the same inference
as the ``recommend`` command.

| route | what |
|---|---|
| ``GET /`` | the page: live camera, upload, the list, the model card |
| ``WS /api/live`` | the page's camera: JPEG frames in (one in flight), faces and list changes out (live.py) |
| ``POST /api/recommend`` | a photo or short video (multipart field ``file``) -> the command's ``--json`` |
| ``GET /api/model-card`` | the face predictor's model card |
| ``GET /api/config``, ``GET /api/health`` | the page's limits and choices; liveness and live sessions |

Models are loaded once (``Resources``) and shared; each camera has its own ``LiveSession``. Model work runs in
worker threads so a slow frame never blocks another client.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import uuid
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.core import Resources
from hybrid_recommender.inference.group import STRATEGIES
from hybrid_recommender.inference.inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.web.live import LiveSession
from hybrid_recommender.web.options import WebOptions
from hybrid_recommender.web.payload import with_movie_details
from hybrid_recommender.web.uploads import (
    EXPECTED,
    RequestError,
    file_from_multipart,
    recommend_for_upload,
    settings_with,
)

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
FRAME_SIZE = (640, 480)                  # what the page sends: enough for faces of 48 px and up, ~50 KB as JPEG
MULTIPART_SLACK = 64 * 1024              # form boundaries and headers around the file


def create_app(resources: Resources, settings: InferenceSettings, options: WebOptions | None = None) -> FastAPI:
    """The page and API over ``resources`` (loaded once), with the command's ``settings``."""
    options = options or WebOptions()
    app = FastAPI(title="Hybrid movie recommender", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    sessions: dict[str, LiveSession] = {}
    app.state.sessions = sessions
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/config")
    def config() -> dict:
        """What the page needs to know: frame size and rate, strategies, limits, whether frames are saved."""
        return {"frame_size": FRAME_SIZE, "frame_rate": options.frame_rate, "strategies": list(STRATEGIES),
                "group_strategy": settings.group_strategy, "top_n": settings.top_n,
                "max_upload_mb": options.max_upload_mb, "max_megapixels": options.max_megapixels,
                "max_video_frames": options.max_video_frames, "image_types": list(IMAGE_SUFFIXES),
                "video_types": list(VIDEO_SUFFIXES), "saves_frames": options.save_frames_dir is not None}

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "live_sessions": len(sessions)}

    @app.get("/api/model-card")
    def model_card() -> dict:
        """The face predictor's model card (what it learned from, validation accuracy), as JSON and as text."""
        describe = getattr(resources.predictor, "describe", None)
        return {"model_card": resources.model_card, "description": describe() if describe else ""}

    @app.post("/api/recommend")
    async def recommend(request: Request, group_strategy: str | None = None, top_n: str | None = None,
                        movie_details: bool = False, filename: str | None = None) -> JSONResponse:
        """A photo or a short video (multipart field ``file``, or the raw body with an image/* or video/*
        Content-Type) -> ``InferenceResult.to_dict()``, the ``recommend --json`` schema; ``movie_details=true``
        adds each film's ``year`` and ``genres``. Bad input: a 4xx JSON ``{"error": ..., "status": ...}``."""
        try:
            chosen = settings_with(settings, group_strategy, top_n)
            name, data = await _upload(request, options, filename)
            result = await run_in_threadpool(recommend_for_upload, data, name, resources, chosen, options)
        except RequestError as exc:
            return _error(exc.status, str(exc))
        except Exception as exc:                 # never a traceback to the client; the server goes on serving
            log.exception("recommend failed")
            return _error(500, f"internal error while recommending ({type(exc).__name__}: {exc})")
        doc = result.to_dict()
        return JSONResponse(with_movie_details(doc, resources.movie_details) if movie_details else doc)

    @app.websocket("/api/live")
    async def live(socket: WebSocket) -> None:
        """The page's camera: binary messages are JPEG frames, text messages are choices (JSON); one reply each."""
        await socket.accept()
        if len(sessions) >= options.max_live_sessions:
            await socket.send_json({"type": "error", "error": f"{len(sessions)} cameras are already being served "
                                    f"(limit {options.max_live_sessions}); try again later"})
            await socket.close(code=1013)
            return
        session = LiveSession(uuid.uuid4().hex, resources, settings, options)
        sessions[session.id] = session
        try:
            await socket.send_json({"type": "ready", "session": session.id, "frame_rate": options.frame_rate})
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await socket.send_json(await _answer(session, message))
        except (WebSocketDisconnect, RuntimeError):   # the page went away mid-reply
            pass
        finally:
            sessions.pop(session.id, None)

    return app


async def _answer(session: LiveSession, message: dict) -> dict:
    try:
        if message.get("bytes") is not None:
            return await run_in_threadpool(session.process, message["bytes"])
        choice = json.loads(message.get("text") or "{}")
        if not isinstance(choice, dict) or choice.get("type") != "settings":
            raise InputDataError('expected a JPEG frame (binary) or {"type": "settings", ...} (text)')
        return session.choose(choice.get("group_strategy"), choice.get("top_n"))
    except (InputDataError, json.JSONDecodeError) as exc:
        error = str(exc)
    except Exception as exc:                      # one bad frame must not end the session or the server
        log.exception("live frame failed")
        error = f"internal error ({type(exc).__name__}: {exc})"
    frame = {"frame": session.received} if message.get("bytes") is not None else {}
    return {"type": "error", "session": session.id, **frame, "error": error}


async def _upload(request: Request, options: WebOptions, filename: str | None) -> tuple[str, bytes]:
    """(file name, bytes) of the request's file, read into memory up to the upload limit."""
    limit = int(options.max_upload_mb * 2**20) + MULTIPART_SLACK
    too_large = RequestError(f"request over the {options.max_upload_mb:g} MB upload limit", 413)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body:
        raise RequestError(f"empty request: expected {EXPECTED} as multipart field 'file'", 400)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return file_from_multipart(bytes(body), content_type)
    kind = content_type.split(";")[0].strip()
    if kind.startswith(("image/", "video/")) or kind == "application/octet-stream":
        return filename or "upload" + (mimetypes.guess_extension(kind) or ""), bytes(body)
    raise RequestError(f"Content-Type {kind or '(none)'}: expected multipart/form-data with a field 'file', or "
                       f"the file itself as image/* or video/*", 415)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)
