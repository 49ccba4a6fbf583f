"""Shared test fixtures: the real data sets beside the checkout, small real tables built from them, and a
throwaway copy of the project for Kedro runs.

Real-data tests skip with a reason when ../shared/datasets is absent, except under CI=true, where a
missing data set fails the run: in CI the real-data tests must run. They assert what holds for any honest
copy of a data set; counts particular to the shared copy only when its checksum says it is that copy.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import torch  # noqa: E402

from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

SHARED_DATASETS = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT_ROOT.parent / "shared" / "datasets"))

# sha256 of the shared copies (../shared/datasets/README.md): facts particular to them (a withheld split, a
# subset's size) are asserted only for these exact files, so the tests hold on any honest copy.
KNOWN_COPIES = {
    "ml-100k.zip": "9c2ee53c1830499e8f3101f8ff2113c388ba6eabdd319a6311df12cdccdf63dc",
    "fer2013.zip": "1848a480f17a7b721eb63e0e1aca365b49977e6aa2ad79221c1dba0f9bac2164",
    "utkface_crop_part1.tar.gz": "e81a4fd8e79a45ce157b6d6c5bc6fba456dd028899476be90adb12655f373713",
    "ckplus48.zip": "1a7458881434ed1184357628f062f1a639b719edcf9b3f9d685703ae26b8fefd",
}


@functools.cache
@functools.cache
def _parameters(env: str) -> dict:
    from kedro.config import OmegaConfigLoader

    from hybrid_recommender import settings

    args = {k: v for k, v in settings.CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    return OmegaConfigLoader(str(PROJECT_ROOT / "conf"), env=env, **args)["parameters"]


def project_parameters(name: str, env: str = "local") -> dict:
    """One pipeline's parameters as Kedro resolves them for ``env`` (base + its keys, interpolations resolved)."""
    import copy

    return copy.deepcopy(_parameters(env)[name])


def is_known_copy(name: str) -> bool:
    """Whether ``name`` in the datasets folder is byte for byte the shared copy described in its README."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == KNOWN_COPIES.get(name)


# The test being set up or run: a fixture or helper that needs something of it (a marker) looks here.
_CURRENT: dict[str, pytest.Item | None] = {"item": None}


def _require_marker(marker: str, why: str) -> None:
    """Fail the current test when it lacks ``marker``: what a test does decides its markers, so `-m` selects right."""
    item = _CURRENT["item"]
    if item is not None and item.get_closest_marker(marker) is None:
        pytest.fail(f"{item.nodeid} {why}: mark it @pytest.mark.{marker}", pytrace=False)


def require_shared(*names: str) -> Path:
    """Path of the shared datasets folder; skips (fails under CI=true) when it or a named archive is missing.

    Only a test marked ``real_data`` may call it (directly or through a fixture it is the first to use)."""
    _require_marker("real_data", "reads the shared data sets")
    missing = [n for n in names if not (SHARED_DATASETS / n).exists()]
    if not SHARED_DATASETS.is_dir() or missing:
        reason = f"real data sets not found: {SHARED_DATASETS} {missing or ''}".strip()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: real-data tests must run, not skip)")
        pytest.skip(reason)
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def movielens(shared_datasets):
    """Real MovieLens 100K as data_engineering writes it: (ratings, users with age_group, movies)."""
    from hybrid_recommender.ingest.movielens import read_movielens
    from hybrid_recommender.ingest.sources import DataSource
    from hybrid_recommender.labels import age_groups

    ratings, users, movies, _ = read_movielens(DataSource(require_shared("ml-100k.zip") / "ml-100k.zip"))
    users["age_group"] = age_groups(users["age"])
    return ratings, users, movies


# Plain one-line log records (Kedro's default rich handler wraps lines at the terminal width).
PLAIN_LOGGING = """\
version: 1
disable_existing_loggers: false
formatters: {plain: {format: "%(levelname)s %(name)s: %(message)s"}}
handlers: {console: {class: logging.StreamHandler, formatter: plain, stream: ext://sys.stdout}}
root: {handlers: [console], level: INFO}
"""


@dataclass
class ProjectCopy:
    """A runnable copy of the project: pyproject.toml, conf/ (no local settings), src/ and empty data layers.

    Every Kedro run a test makes runs here, so that it never writes into the checkout's data/, mlflow.db or
    mlruns/: the copy's own package is imported (``env`` puts its src/ first), so its paths stay inside it.
    ``project_copy / "data"`` is a path in the copy.
    """

    root: Path
    env: dict

    @classmethod
    def create(cls, target: Path) -> ProjectCopy:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(PROJECT_ROOT / "src", target / "src", ignore=ignore)
        shutil.copytree(PROJECT_ROOT / "conf", target / "conf", ignore=shutil.ignore_patterns("local", "__pycache__"))
        (target / "conf" / "local").mkdir()
        for layer in (PROJECT_ROOT / "data").iterdir():
            if layer.is_dir():
                (target / "data" / layer.name).mkdir(parents=True)
        (target / "logging.yml").write_text(PLAIN_LOGGING)
        env = {**os.environ, "PYTHONPATH": str(target / "src"), "KEDRO_LOGGING_CONFIG": str(target / "logging.yml"),
               "KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK": "true",
               "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
        env.pop("HYBRID_DATASETS_DIR", None)
        return cls(target, env)

    def __truediv__(self, part: str | Path) -> Path:
        return self.root / part

    def __fspath__(self) -> str:
        return str(self.root)

    def command(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        _require_kedro_run_marker(args)
        return subprocess.run(args, cwd=cwd or self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        _require_kedro_run_marker(args)
        return subprocess.Popen(args, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)

    def kedro_run(self, datasets: str | Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``kedro run --env fast ARGS`` as a user runs it, reading the data sets in ``datasets``."""
        self.env["HYBRID_DATASETS_DIR"] = str(datasets)
        return self.command(sys.executable, "-m", "kedro", "run", "--env", "fast", *args, timeout=timeout)

    def mlflow_runs(self) -> list:
        """Top-level MLflow runs of the copy, oldest first."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{self.root / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("hybrid_recommender")
        runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
        return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def _require_kedro_run_marker(args: tuple[str, ...]) -> None:
    if "run" in args and "--help" not in args:      # `kedro run ...`, `hybrid-recommender run ...`
        _require_marker("kedro_run", "starts a Kedro run")


@pytest.fixture
def project_copy(tmp_path) -> ProjectCopy:
    return ProjectCopy.create(tmp_path / "project")


def kedro_run(project: ProjectCopy, datasets: str | Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``kedro run --env fast ARGS`` in ``project`` (a :class:`ProjectCopy`), reading the data sets in ``datasets``."""
    return project.kedro_run(datasets, *args, timeout=timeout)


# --- the checkout stays as it was ------------------------------------------------------------------------------
GUARDED = ("data", "mlflow.db", "mlruns")
_STATE = pytest.StashKey[dict]()


def checkout_state(root: Path = PROJECT_ROOT) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under the checkout's data/, mlflow.db and mlruns/."""
    state = {}
    for name in GUARDED:
        path = root / name
        for p in [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]:
            if p.is_file():
                stat = p.stat()
                state[p.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return state


def changed_files(before: dict, after: dict) -> list[str]:
    """Files added, removed or rewritten between two :func:`checkout_state` snapshots."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def pytest_sessionstart(session):
    session.config.stash[_STATE] = checkout_state()


def pytest_sessionfinish(session, exitstatus):
    """Fail the suite when a test wrote into the checkout's data/, mlflow.db or mlruns/."""
    before = session.config.stash.get(_STATE, None)
    if before is None:
        return
    changed = changed_files(before, checkout_state())
    if changed:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"tests changed the checkout's {'/'.join(GUARDED)}: {shown} (tests must write to temporary folders only)"
        if reporter is not None:
            reporter.write_line(f"ERROR {message}", red=True, bold=True)
        else:
            print(f"ERROR {message}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED



@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _CURRENT["item"] = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    _CURRENT["item"] = None


def pytest_collection_modifyitems(config, items):
    """A test using a shared-data fixture carries ``real_data`` (a cached session fixture is not set up again, so
    the check in :func:`require_shared` sees only its first user)."""
    unmarked = [i.nodeid for i in items if "shared_datasets" in getattr(i, "fixturenames", ())
                and i.get_closest_marker("real_data") is None]
    if unmarked:
        raise pytest.UsageError(f"tests that read the shared data sets without @pytest.mark.real_data: {unmarked}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped real-data test is a failure, whatever skipped it (unless it is marked ``optional``)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("real_data") and not item.get_closest_marker("optional") \
            and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"real-data test skipped under CI=true: {report.longrepr}"
