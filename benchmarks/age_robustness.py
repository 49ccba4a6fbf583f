"""Benchmark (not a test): how the face predictor reads UTKFace's test faces under webcam/phone perturbations.

    .venv/bin/python benchmarks/age_robustness.py [--env fast] [--predictor data/06_models/face_attribute_predictor]
        [--limit N] [--framing mtcnn] [--out docs/age_robustness.md] [--dry-run]

Faces: UTKFace's test split (non-blank, with an age) from the data_engineering index ``utkface_faces``, in the
MTCNN framing the predictor sees at inference (``utkface_mtcnn_pixels``, written by the face_models pipeline's
first node), loaded through the Kedro catalog of ``--env``, gray at the predictor's size. Each perturbation of
``face_models.camera.PERTURBATIONS`` is applied to all of them (fixed levels: deterministic), then
``FaceAttributePredictor.predict``. Per perturbation: age MAE (years, from ``age_expected`` when the predictor
has an exact-age head) and gender accuracy on the paper's viewer ages (8-47); accuracy on the four viewer groups
(8-14, 15-24, 25-37, 38-47) with the most probable group (argmax) and with ``age_choice.choose_age_groups``
(when that module exists, with the ``inference.age_choice`` parameters, as inference chooses); and the share
of adults (25+, 48+ included) read as a child group (0-7 or 8-14). ``--dry-run``: load, perturb and count;
no predictor needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402
from tqdm import tqdm  # noqa: E402

from hybrid_recommender.face_models.age_choice import choose_age_groups  # noqa: E402
from hybrid_recommender.face_models.camera import PERTURBATION_NOTES, PERTURBATIONS  # noqa: E402
from hybrid_recommender.face_models.preprocessing import to_gray_uint8  # noqa: E402
from hybrid_recommender.labels import age_groups  # noqa: E402
from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

PIXELS = {"mtcnn": "utkface_mtcnn_pixels", "source": "utkface_pixels"}
CHILD_GROUPS = ("0-7", "8-14")
ADULT_AGE = 25
BATCH = 256


def load_inputs(env: str | None, framing: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """UTKFace's index, its pixels in ``framing`` and the parameters, through the Kedro catalog of ``env``."""
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env=env) as session:
        context = session.load_context()
        catalog, params = context.catalog, dict(context.params)
        for name in ("utkface_faces", PIXELS[framing]):
            if not catalog.exists(name):
                hint = ("kedro run --pipelines face_models --nodes reframe_utkface_with_mtcnn (or --framing source)"
                        if name == PIXELS["mtcnn"] else "kedro run --pipelines data_engineering")
                raise SystemExit(f"{name} is not written yet in env {env or 'default'}: run `{hint}`")
        return catalog.load("utkface_faces"), catalog.load(PIXELS[framing]), params


def test_faces(index: pd.DataFrame, pixels: np.ndarray, image_size: int, limit: int | None,
               seed: int = 0) -> tuple[pd.DataFrame, torch.Tensor]:
    """UTKFace's test faces (non-blank, with an age), optionally a seeded sample: (rows, uint8 (N, 1, S, S))."""
    rows = index[(index["split"] == "test") & index["age"].notna()]
    if "is_blank" in rows:
        rows = rows[~rows["is_blank"].fillna(False).astype(bool)]
    if limit is not None and len(rows) > limit:
        rows = rows.sample(n=limit, random_state=seed)
    rows = rows.sort_values("pixel_row").reset_index(drop=True)
    return rows, to_gray_uint8(np.asarray(pixels[rows["pixel_row"].to_numpy()]), image_size)


def predict(predictor, faces: torch.Tensor, desc: str) -> dict[str, np.ndarray]:
    """Every array ``predict`` returns (per face), over batches with a progress bar."""
    parts: dict[str, list] = {}
    for i in tqdm(range(0, len(faces), BATCH), desc=desc, unit="batch", leave=False):
        for key, value in predictor.predict(faces[i:i + BATCH]).items():
            if isinstance(value, np.ndarray) and value.ndim >= 1:
                parts.setdefault(key, []).append(value)
    return {k: np.concatenate(v) for k, v in parts.items()}


def rule_settings(params: Mapping) -> tuple[Mapping | None, str]:
    """The age-choice rule's settings as inference uses them (``inference.age_choice``) and where they came from."""
    settings = (params.get("inference") or {}).get("age_choice")
    if settings:
        return dict(settings), f"inference.age_choice = {dict(settings)}"
    return None, "the rule's defaults"


def rule_groups(probs: np.ndarray, labels: list[str], expected: np.ndarray | None, rule: Mapping | None,
                edges: list[int] | None) -> tuple[np.ndarray | None, str]:
    """The groups ``choose_age_groups`` picks (labels), as inference picks them."""
    chosen = [c.group for c in choose_age_groups(probs, labels, expected, rule, edges)]
    return np.asarray(chosen, dtype=str), ""


def score(rows: pd.DataFrame, probs: Mapping[str, np.ndarray], labels: Mapping[str, list[str]],
          true_groups: np.ndarray, viewers: list[str], rule: Mapping | None, edges: list[int] | None) -> dict:
    """The row of one perturbation: metrics (None where not available) and why the rule column is n/a."""
    ages = rows["age"].to_numpy(float)
    viewer = np.isin(true_groups, viewers)
    adult = ages >= ADULT_AGE
    group_labels = list(labels["age_group"])
    argmax = np.asarray(group_labels, dtype=object)[probs["age_group"].argmax(1)].astype(str)
    expected = probs.get("age_expected")
    chosen, why_no_rule = rule_groups(probs["age_group"], group_labels, expected, rule, edges)
    gender_true = rows["gender"].astype("string").fillna("").to_numpy(str)
    gender_pred = np.asarray(labels["gender"], dtype=object)[probs["gender"].argmax(1)].astype(str)
    gendered = viewer & np.isin(gender_true, labels["gender"])

    def share(mask: np.ndarray, hit: np.ndarray | None) -> float | None:
        return None if hit is None or not mask.any() else float(hit[mask].mean())

    return {
        "mae": None if expected is None or not viewer.any() else float(np.abs(expected - ages)[viewer].mean()),
        "group_argmax": share(viewer, argmax == true_groups),
        "group_rule": share(viewer, None if chosen is None else chosen == true_groups),
        "adult_child_argmax": share(adult, np.isin(argmax, CHILD_GROUPS)),
        "adult_child_rule": share(adult, None if chosen is None else np.isin(chosen, CHILD_GROUPS)),
        "gender": share(gendered, gender_pred == gender_true),
        "why_no_rule": why_no_rule,
    }


def child_bar_sweep(rows: pd.DataFrame, probs_by: Mapping[str, Mapping[str, np.ndarray]],
                    labels: Mapping[str, list[str]], true_groups: np.ndarray, rule: Mapping | None,
                    edges: list[int] | None, bars: list[float]) -> list[str]:
    """Both errors the child bar trades, per bar, on clean faces and the harshest perturbations: adults (25+) read
    into a child group, and children (8-14) read into an adult group (15+)."""
    ages = rows["age"].to_numpy(float)
    adult, child = ages >= ADULT_AGE, (ages >= 8) & (ages < 15)
    shown = [n for n in ("clean", "jpeg_q10", "low_res_12px", "dim_webcam") if n in probs_by]
    head = " | ".join(f"{n}: adults as children / children as adults" for n in shown)
    lines = [f"| child_min_probability | {head} |", "|---|" + "---|" * len(shown)]
    for bar in bars:
        cells = []
        for name in shown:
            probs = probs_by[name]
            chosen = np.asarray([c.group for c in choose_age_groups(
                probs["age_group"], list(labels["age_group"]), probs.get("age_expected"),
                {**(rule or {}), "child_min_probability": bar}, edges)])
            is_child = np.isin(chosen, CHILD_GROUPS)
            cells.append(f"{_cell(float(is_child[adult].mean()))} / {_cell(float((~is_child)[child].mean()))}")
        lines.append(f"| {bar} | " + " | ".join(cells) + " |")
    return lines


def _cell(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if percent else f"{value:.2f}"


def table(results: Mapping[str, dict], n_viewers: int) -> list[str]:
    lines = ["| perturbation | what | faces 8-47 | age MAE (years) | 4-group acc, argmax | 4-group acc, rule "
             "| adults (25+) read as <=14, argmax | adults read as <=14, rule | gender acc |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {PERTURBATION_NOTES[name]} | {n_viewers} | {_cell(r['mae'], False)} "
                     f"| {_cell(r['group_argmax'])} | {_cell(r['group_rule'])} | {_cell(r['adult_child_argmax'])} "
                     f"| {_cell(r['adult_child_rule'])} | {_cell(r['gender'])} |")
    return lines


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def perturbed(faces: torch.Tensor) -> dict[str, tuple[torch.Tensor, float]]:
    """Each perturbation's faces and the seconds it took."""
    out = {}
    for name, perturb in tqdm(PERTURBATIONS.items(), desc="perturb", leave=False):
        start = time.perf_counter()
        out[name] = perturb(faces), time.perf_counter() - start
    return out


def dry_run(rows: pd.DataFrame, faces: torch.Tensor, true_groups: np.ndarray, viewers: list[str]) -> None:
    print(f"{len(rows)} test faces {tuple(faces.shape)} uint8; {int(np.isin(true_groups, viewers).sum())} "
          f"aged 8-47 ({', '.join(f'{g}: {int((true_groups == g).sum())}' for g in viewers)}); "
          f"{int((rows['age'] >= ADULT_AGE).sum())} adults (25+)")
    clean, results = faces.float(), perturbed(faces)
    print("| perturbation | what | faces | mean abs change (levels) | mean level | seconds |")
    print("|---|---|---|---|---|---|")
    for name, (out, seconds) in results.items():
        assert out.dtype == torch.uint8 and out.shape == faces.shape, name
        print(f"| {name} | {PERTURBATION_NOTES[name]} | {len(out)} | {(out.float() - clean).abs().mean():.2f} "
              f"| {out.float().mean():.1f} | {seconds:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=None, help="Kedro environment (default: the project's)")
    ap.add_argument("--predictor", default="data/06_models/face_attribute_predictor")
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of this many test faces")
    ap.add_argument("--framing", choices=sorted(PIXELS), default="mtcnn",
                    help="mtcnn: as at inference (default); source: UTKFace's own crops")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    ap.add_argument("--child-bars", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9],
                    help="child_min_probability values for the sweep of both errors")
    ap.add_argument("--dry-run", action="store_true", help="load and perturb the faces, print counts; no predictor")
    args = ap.parse_args()

    index, pixels, params = load_inputs(args.env, args.framing)
    groups_cfg = params["data_engineering"]["age_groups"]
    viewers = list(groups_cfg["viewers"])
    predictor = None
    if not args.dry_run:
        from hybrid_recommender.face_models.predictor import FaceAttributePredictor

        predictor = FaceAttributePredictor.load(PROJECT_ROOT / args.predictor)
    image_size = predictor.prep.image_size if predictor else int(params["face_models"]["preprocessing"]["image_size"])
    rows, faces = test_faces(index, pixels, image_size, args.limit)
    true_groups = np.asarray(age_groups(rows["age"], groups_cfg["edges"], groups_cfg["labels"]).astype(str))
    print(f"UTKFace test, {args.framing} framing, env {args.env or 'default'}; torch threads {torch.get_num_threads()}")
    if args.dry_run:
        dry_run(rows, faces, true_groups, viewers)
        return

    rule, rule_source = rule_settings(params)
    edges = getattr(predictor, "age_edges", None)     # the exact-age head's group edges (None: no such head)
    results, probs_by = {}, {}
    for name, (out, _) in tqdm(perturbed(faces).items(), desc="perturbations"):
        probs_by[name] = predict(predictor, out, name)
        results[name] = score(rows, probs_by[name], predictor.labels, true_groups, viewers, rule, edges)
    lines = table(results, int(np.isin(true_groups, viewers).sum()))
    lines += ["", *child_bar_sweep(rows, probs_by, predictor.labels, true_groups, rule, edges, args.child_bars)]
    why_no_rule = results["clean"]["why_no_rule"]
    notes = [f"- {len(rows)} UTKFace test faces ({args.framing} framing, {image_size} px gray); "
             f"{int((rows['age'] >= ADULT_AGE).sum())} adults (25+); age MAE and gender on ages 8-47.",
             f"- rule: age_choice.choose_age_groups with {rule_source}" + (f" (n/a: {why_no_rule})" if why_no_rule
                                                                          else ""),
             "- age MAE: n/a when the predictor has no exact-age head (no `age_expected`)."]
    print("\n".join(["", *lines, "", *notes]))
    if args.out:
        command = shlex.join([".venv/bin/python", "benchmarks/age_robustness.py", *sys.argv[1:]])
        header = [f"# Age robustness under camera perturbations ({dt.date.today().isoformat()})", "",
                  f"- command: `{command}`", f"- machine: {cpu_model()}, {os.cpu_count()} CPUs, torch threads "
                  f"{torch.get_num_threads()}", f"- predictor: {args.predictor}", "", "```",
                  predictor.describe(), "```", ""]
        out = PROJECT_ROOT / args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join([*header, *lines, "", *notes, ""]))
        print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
