"""Provenance of an evaluation: the code (git), the face predictor, the seeds and the data sets it ran on, as a flat
dict of strings (logged as params and tags of the parent run and as ``provenance.json``).

Nothing is cached: every hash is recomputed, so a stale cache can never vouch for changed files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from hybrid_recommender.paths import PROJECT_ROOT

UNKNOWN = "unknown"
MISSING = "missing"
# face_models.predictor's file names, not imported from there: that package loads timm at import
CONFIG_FILE, WEIGHTS_FILE = "config.json", "weights.safetensors"


def _git(root: Path, git: str, *args: str) -> str | None:
    try:
        return subprocess.run([git, *args], cwd=root, capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):   # no git, not a repository, a dubious owner, a hang
        return None


def git_state(root: str | Path = PROJECT_ROOT, git: str = "git") -> dict[str, str]:
    """``git_commit`` (HEAD) and ``git_dirty`` ("true": uncommitted or untracked files), "unknown" without git."""
    commit = _git(Path(root), git, "rev-parse", "HEAD")
    if not commit:
        return {"git_commit": UNKNOWN, "git_dirty": UNKNOWN}
    # --no-optional-locks: a status must not rewrite the index of a work tree others may be using
    status = _git(Path(root), git, "--no-optional-locks", "status", "--porcelain")
    return {"git_commit": commit, "git_dirty": UNKNOWN if status is None else str(bool(status)).lower()}


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file's bytes (what ``sha256sum`` prints)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def folder_fingerprint(path: str | Path) -> str:
    """sha256 over the sorted relative paths, sizes and mtimes of a folder's files: cheap (no content is read),
    and any added, removed, resized or touched file changes it (so does a fresh extraction of the same files)."""
    root = Path(path)
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for rel, p in files:
        st = p.stat()
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(path: str | Path) -> tuple[str, str]:
    """``("sha256", digest)`` of a file, ``("tree_sha256", digest)`` of a folder, ``("sha256", "missing")``."""
    p = Path(path)
    if p.is_file():
        return "sha256", sha256_file(p)
    if p.is_dir():
        return "tree_sha256", folder_fingerprint(p)
    return "sha256", MISSING


def predictor_hashes(predictor_dir: str | Path) -> dict[str, str]:
    """sha256 of the predictor's config as canonical JSON (sorted keys: a re-save that only reorders keys keeps
    it; the model card's training time changes it) and sha256 of its weights file; "missing" when absent."""
    folder = Path(predictor_dir)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
        config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    except (OSError, ValueError):
        config_hash = MISSING
    weights = folder / WEIGHTS_FILE
    return {"predictor.config_sha256": config_hash,
            "predictor.weights_sha256": sha256_file(weights) if weights.is_file() else MISSING}


def collect_seeds(params: Mapping, prefix: str = "") -> dict[str, str]:
    """Every key named ``seed`` or ending in ``_seed`` in nested mappings, by dotted path:
    ``{"evaluation": {"seed": 7}}`` -> ``{"evaluation.seed": "7"}``."""
    out = {}
    for key, value in params.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(collect_seeds(value, path + "."))
        elif str(key) == "seed" or str(key).endswith("_seed"):
            out[path] = str(value)
    return out


def _true(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def data_fingerprints(inventory: pd.DataFrame) -> dict[str, str]:
    """Per present data set of the inventory (columns dataset, present, path): its path and fingerprint, keyed
    ``data.{dataset}.path`` and ``data.{dataset}.sha256`` (an archive) or ``.tree_sha256`` (a folder)."""
    out = {}
    for row in inventory.to_dict("records"):
        if _true(row["present"]) and row.get("path"):
            kind, digest = fingerprint(row["path"])
            out[f"data.{row['dataset']}.path"] = str(row["path"])
            out[f"data.{row['dataset']}.{kind}"] = digest
    return out


def evaluation_provenance(inventory: pd.DataFrame, predictor_dir: str | Path, params: Mapping,
                          extra_paths: Mapping[str, str | Path] | None = None,
                          root: str | Path = PROJECT_ROOT) -> dict[str, str]:
    """Flat provenance strings: git commit and dirtiness, the predictor's config and weights hashes, every seed in
    ``params`` (``seeds.<dotted path>``), and the fingerprint of each present inventory data set and of each
    ``extra_paths`` entry (e.g. ``{"movielens": ".../ml-100k.zip"}``, which the face inventory does not list)."""
    extra = pd.DataFrame([{"dataset": k, "present": True, "path": str(v)} for k, v in (extra_paths or {}).items()],
                         columns=["dataset", "present", "path"])
    return {**git_state(root), **predictor_hashes(predictor_dir),
            **{f"seeds.{k}": v for k, v in collect_seeds(params).items()},
            **data_fingerprints(inventory), **data_fingerprints(extra)}
