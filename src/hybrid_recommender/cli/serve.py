"""``hybrid-recommender serve``: the web page and JSON API (hybrid_recommender.web; docs/web.md).

Loads the predictor and recommenders once, from the paths of ``inference.resources`` (or those given), then
serves until Ctrl-C. Listens on 127.0.0.1 unless ``--host`` says otherwise: the camera's frames should not leave
the machine unless someone chose so.
"""

from __future__ import annotations

from pathlib import Path

import click

from hybrid_recommender.cli.recommend import _use_threads, inference_parameters
from hybrid_recommender.errors import InputDataError
from hybrid_recommender.paths import PROJECT_ROOT

UI_PACKAGES = ("fastapi", "uvicorn", "python_multipart", "websockets")


def _missing_resources(paths) -> list[str]:
    """The resource files that are not there yet (what `make run` writes)."""
    wanted = {"predictor": Path(paths.predictor) / "config.json", "recommender": Path(paths.recommender),
              "cold_start": Path(paths.cold_start), "movies": Path(paths.movies)}
    return [str(Path(getattr(paths, k))) for k, p in wanted.items()
            if not (p if p.is_absolute() else PROJECT_ROOT / p).exists()]


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default keeps the page on this machine; 0.0.0.0 opens it to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--strategy", type=click.Choice(["average", "least_misery", "majority_emotion"]), default=None,
              help="Default audience strategy (the page can change it).")
@click.option("--top-n", "-n", type=click.IntRange(1, 100), default=None, help="Length of the list.")
@click.option("--predictor", type=click.Path(), default=None, help="Face attribute predictor folder.")
@click.option("--recommender", type=click.Path(), default=None, help="Fitted recommender (pickle-free store).")
@click.option("--cold-start", "cold_start_path", type=click.Path(), default=None, help="Cold-start lists (JSON).")
@click.option("--movies", type=click.Path(), default=None, help="MovieLens movies table (parquet).")
@click.option("--env", "-e", default=None, help="Kedro configuration environment to read parameters from.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.1), default=None, help="Largest upload (default 50).")
@click.option("--save-frames", type=click.Path(file_okay=False), default=None,
              help="Write every live camera frame as JPEG under this folder (off: frames stay in memory).")
def serve(host, port, strategy, top_n, predictor, recommender, cold_start_path, movies, env, max_upload_mb,
          save_frames):
    """Serve the web page (live camera, upload, the list, the model card) and the JSON API."""
    try:                                  # the ui extra; `--help` and the other commands never need it
        import uvicorn

        from hybrid_recommender.web import WebOptions, create_app
    except ImportError as exc:
        raise click.ClickException(f"the web page needs the ui extra ({exc.name} is missing): "
                                   f"pip install -e '.[ui]' (or run `make demo`)") from None
    from hybrid_recommender.inference.resources import load_resources
    from hybrid_recommender.parameters import validated

    params = inference_parameters(env)
    params.update({k: v for k, v in {"group_strategy": strategy, "top_n": top_n}.items() if v is not None})
    given = {"predictor": predictor, "recommender": recommender, "cold_start": cold_start_path, "movies": movies}
    params["resources"] = {**params.get("resources", {}),
                           **{k: str(Path(v).resolve()) for k, v in given.items() if v}}
    try:
        settings = validated("inference", params)
        missing = _missing_resources(settings.resources)
        if missing:
            raise InputDataError(f"nothing to serve yet: {', '.join(missing)} not found. Run `make run` first "
                                 f"(it trains and saves them), or pass --predictor/--recommender/--cold-start/--movies")
        _use_threads(settings.num_threads)
        resources = load_resources(settings.resources, PROJECT_ROOT)
        options = WebOptions(**{k: v for k, v in {"max_upload_mb": max_upload_mb,
                                                  "save_frames_dir": save_frames}.items() if v is not None})
    except InputDataError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(resources, settings, options)
    where = "this machine only" if host in ("127.0.0.1", "localhost", "::1") else "the network: anyone who can reach it"
    click.echo(f"Serving http://{host}:{port}/ ({where}); Ctrl-C stops.")
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=options.max_frame_kb * 1024 + 1024)
