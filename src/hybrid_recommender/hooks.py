"""Kedro hooks (registered in settings.py). When a run starts, :class:`ParameterCheckHook` checks the ``--env``
and every parameter and :class:`WritableOutputsHook` tries the output folders, both before any node;
:class:`SparkHooks` starts the Spark session of ``recommendation.engine: spark``; the rest of
this docstring is the interrupt handling: an interrupted run (SIGINT / Ctrl-C, SIGTERM) is recorded as interrupted.

Without them a Ctrl-C surfaces as a KeyboardInterrupt that Kedro's error hooks never see (MLflow's exit handler
then marks the run FINISHED), and SIGTERM kills the process mid-write (the run stays RUNNING, temporary files
stay). With them, during a run:

- the first SIGINT or SIGTERM raises :class:`RunInterrupted` (an ``Exception``, so Kedro's ``on_node_error`` /
  ``on_pipeline_error`` hooks run) at once, or, while a dataset is being saved, as soon as that save is done:
  every output file is the old or the new complete one, never a partial one;
- ``on_pipeline_error`` (after kedro-mlflow has ended its run as FAILED) marks the run, and its still-running
  nested runs, KILLED;
- a second signal stops at once, even mid-save (dataset writes clean their temporary files on failure).

The project CLI (cli.py) prints the interrupt as one line and exits with 128 + the signal number.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS
from hybrid_recommender.errors import InputDataError

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):
    """The run was stopped by a signal before the pipeline finished."""

    def __init__(self, signum: int, mlflow_run_id: str | None = None):
        super().__init__(signum)
        self.signum = int(signum)
        self.mlflow_run_id = mlflow_run_id

    def __str__(self) -> str:
        run = f"; MLflow run {self.mlflow_run_id} recorded as KILLED" if self.mlflow_run_id else ""
        return (f"run interrupted by {signal.Signals(self.signum).name} before the pipeline finished{run}. "
                f"Outputs already saved are kept (each file complete); run again to rebuild the rest.")


def end_active_runs(status: str = "KILLED") -> list[str]:
    """End every MLflow run still active in this thread with ``status``; the ids of the runs ended."""
    if "mlflow" not in sys.modules:           # nothing was tracked (and importing mlflow costs seconds)
        return []
    import mlflow

    ended = []
    while (run := mlflow.active_run()) is not None:
        ended.append(run.info.run_id)
        mlflow.end_run(status)
    return ended


class RunInterruptHooks:
    """Turns SIGINT/SIGTERM during a Kedro run into :class:`RunInterrupted` and the MLflow run into KILLED."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._reset()

    def _reset(self) -> None:
        self._signum: int | None = None
        self._saving = 0
        self._run_id: str | None = None
        self._tracking_uri: str | None = None

    # --- signal handling ----------------------------------------------------------------------------------
    def _install(self) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return                                  # signal handlers can only be set from the main thread
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signum is not None:               # a second signal: stop now
            raise RunInterrupted(signum)
        self._signum = signum
        if self._saving:
            log.warning("%s received: stopping once the dataset being saved is complete",
                        signal.Signals(signum).name)
            return
        raise RunInterrupted(signum)

    def _raise_if_interrupted(self) -> None:
        """Raise a pending interrupt (deferred by a save, or swallowed by a node's broad ``except``)."""
        if self._signum is not None and not self._saving:
            raise RunInterrupted(self._signum)

    # --- hooks --------------------------------------------------------------------------------------------
    @hook_impl(tryfirst=True)                      # before kedro-mlflow starts its run
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        self._reset()
        self._install()

    def _remember_run(self) -> None:
        if self._run_id is None and "mlflow" in sys.modules:
            import mlflow  # here: importing mlflow costs seconds, and only a tracked run has loaded it

            run = mlflow.active_run()
            if run is not None:
                self._run_id, self._tracking_uri = run.info.run_id, mlflow.get_tracking_uri()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._remember_run()
        self._raise_if_interrupted()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        self._raise_if_interrupted()

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        self._raise_if_interrupted()

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        self._raise_if_interrupted()
        self._saving += 1

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        self._saving -= 1
        self._raise_if_interrupted()

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl(trylast=True)                       # after kedro-mlflow has ended its run as FAILED
    def on_pipeline_error(self, error: Exception) -> None:
        self._restore()
        self._remember_run()
        if self._signum is None:
            return
        interrupt = find_error(error, RunInterrupted)
        if self._run_id is not None:
            try:
                self._mark_killed(self._run_id)
            except Exception as exc:  # noqa: BLE001 - never hide the interrupt behind a tracking error
                log.warning("could not mark MLflow run %s as KILLED (%s); kedro-mlflow marked it FAILED",
                            self._run_id, exc)
                return
            if interrupt is not None:
                interrupt.mlflow_run_id = self._run_id

    def _mark_killed(self, run_id: str) -> None:
        # here: mlflow is loaded only when a run is tracked; `--help` need not
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self._tracking_uri)
        run = client.get_run(run_id)
        children = client.search_runs([run.info.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
        client.set_terminated(run_id, "KILLED")
        for child in children:
            if child.info.status == "RUNNING":
                client.set_terminated(child.info.run_id, "KILLED")
        log.warning("MLflow run %s recorded as KILLED (%s)", run_id, signal.Signals(self._signum).name)


def find_error(exc: BaseException | None, kind: type[BaseException]) -> Any:
    """The exception of type ``kind`` behind ``exc`` (Kedro wraps dataset errors), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class TorchThreadsHook:
    """Torch's CPU thread count, set once per run from ``face_models.num_threads`` (``auto``: the cores this
    process may use, which in a container can be fewer than the machine has)."""

    @hook_impl
    def after_context_created(self, context) -> None:
        # here, not at import: `kedro --help` need not load torch
        from hybrid_recommender.face_models.hardware import torch_threads

        threads = torch_threads(context.params["face_models"]["num_threads"])
        if threads:   # null: torch's own default
            import torch

            torch.set_num_threads(threads)
            log.info("torch uses %d CPU thread(s)", threads)


class SparkHooks:
    """The Spark session of ``recommendation.engine: spark``, as Kedro's PySpark starter manages it: started from
    ``conf/<env>/spark.yml`` when the context is created, only when the engine is ``spark`` (the Surprise path never
    starts a JVM), and stopped after the run. A session that was already running is used and left running.

    Nodes reach it with ``SparkSession.getActiveSession()`` (recommender.spark_als.spark_session). Spark sessions
    cannot be pickled: run the spark engine with the sequential runner (Kedro's default).
    """

    def __init__(self) -> None:
        self.session: Any = None
        self._owned = False

    @hook_impl
    def after_context_created(self, context) -> None:
        engine = (context.params.get("recommendation") or {}).get("engine", "surprise")
        if engine != "spark":
            return
        self.start_session(context.config_loader["spark"])

    def start_session(self, conf: Mapping[str, Any]) -> Any:
        """A SparkSession with the properties ``conf`` (or the running session, left as it is)."""
        # here, not at import: PySpark is an optional extra, and the Surprise path never loads it
        from hybrid_recommender.recommender.spark_als import quiet_pandas_warnings, require_pyspark

        try:
            require_pyspark()
        except ImportError as exc:            # one line from the project's CLI, before any node runs
            raise InputDataError(str(exc)) from exc
        from pyspark import SparkConf
        from pyspark.sql import SparkSession

        running = SparkSession.getActiveSession()
        if running is not None:
            if running is not self.session:
                self.session, self._owned = running, False
                log.info("Spark engine: using the running Spark %s session (%s)", running.version,
                         running.sparkContext.master)
            return running
        if str(conf.get("spark.master", "")).startswith("local") and conf.get("spark.driver.host"):
            # local mode: the JVM resolves its address before reading the configuration (else a warning that the
            # hostname resolves to a loopback address, and a bind to the first network interface)
            os.environ.setdefault("SPARK_LOCAL_IP", str(conf["spark.driver.host"]))
        spark_conf = SparkConf().setAll([(str(k), _spark_value(v)) for k, v in conf.items()])
        with quiet_pandas_warnings():
            self.session = SparkSession.builder.config(conf=spark_conf).getOrCreate()
        self._owned = True
        log.info("Spark engine: Spark %s session started (master %s)", self.session.version,
                 self.session.sparkContext.master)
        return self.session

    def stop_session(self) -> None:
        """Stop the session this hook started (a session it found running is left running)."""
        if self.session is not None and self._owned:
            self.session.stop()
            log.info("Spark engine: Spark session stopped")
        self.session, self._owned = None, False

    @hook_impl
    def after_pipeline_run(self) -> None:
        self.stop_session()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.stop_session()


def _spark_value(value: Any) -> str:
    """A YAML value as Spark reads it (booleans lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


class RunNameHook:
    """Names the kedro-mlflow run after what it ran: ``all-fast``, ``face_models-cpu``,
    ``data_engineering+clustering-local`` (kedro-mlflow would name it ``__default__``).

    A ``tracking.run.name`` set in mlflow.yml wins. kedro-mlflow reads the name from ``context.mlflow`` when the
    pipeline starts, so the name is set there just before (``tryfirst``).
    """

    def __init__(self) -> None:
        self._config: Any = None
        self._env: str | None = None

    @hook_impl(trylast=True)                       # after kedro-mlflow has put its configuration on the context
    def after_context_created(self, context) -> None:
        self._config = getattr(context, "mlflow", None)
        self._env = context.env

    @hook_impl(tryfirst=True)                      # before kedro-mlflow starts its run
    def before_pipeline_run(self, run_params: dict) -> None:
        run = getattr(getattr(self._config, "tracking", None), "run", None)
        if run is None or run.name:
            return
        run.name = run_name(run_params.get("pipeline_names") or run_params.get("pipeline_name"),
                            run_params.get("env") or self._env)


def run_name(pipelines: str | list[str] | None, env: str | None) -> str:
    """``<pipelines joined by +>-<environment>``; the default pipeline is ``all``, no environment ``local``."""
    names = [pipelines] if isinstance(pipelines, str) else list(pipelines or [])
    names = ["all" if n == "__default__" else n for n in names] or ["all"]
    return f"{'+'.join(names)}-{env or CONFIG_LOADER_ARGS['default_run_env']}"


class ParameterCheckHook:
    """Checks the ``--env`` folder and every parameter when the context is created, before any node or MLflow
    run starts: an unknown environment, a misspelt key or a value out of range is one error line (cli.py)."""

    @hook_impl(tryfirst=True)                      # before kedro-mlflow reads the environment's configuration
    def after_context_created(self, context) -> None:
        conf = Path(context.config_loader.conf_source)
        if context.env and not (conf / context.env).is_dir():
            known = sorted(p.name for p in conf.iterdir() if p.is_dir() and p.name != CONFIG_LOADER_ARGS["base_env"])
            raise InputDataError(f"--env {context.env}: no such configuration environment (no folder "
                                 f"{conf / context.env}); expected one of {', '.join(known)}")
        # here, not at import: the sections' models import their packages (torch, scikit-learn); `--help` need not
        from hybrid_recommender.parameters import check_parameters

        check_parameters(context.params)


class WritableOutputsHook:
    """Checks, before the first node, that every local folder the pipeline writes to can be written (a read-only
    folder or a full disk would otherwise fail only at the first save, after minutes of work): the folders of its
    outputs' files, and the cache folders its nodes fill (an input, e.g. the AFEW face cache)."""

    @hook_impl(tryfirst=True)                      # before kedro-mlflow starts a run that would stay RUNNING
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        configs = {name: catalog.config_resolver.resolve_pattern(name) for name in pipeline.datasets()}
        folders = {Path(path).parent for name in pipeline.all_outputs() for path in _local_paths(configs[name])}
        folders |= {Path(config["path"]) for config in configs.values() if config.get("type") == CACHE_DATASET}
        for folder in sorted(folders):
            writable_folder(folder)


# by name: importing the datasets module loads the recommender (seconds), which `kedro --help` need not
CACHE_DATASET = "hybrid_recommender.io.kedro_datasets.ClipFaceCacheDataset"


def _local_paths(config: Mapping) -> Iterator[str]:
    """The local ``filepath`` values in a dataset's configuration, wrapped datasets included."""
    for key, value in config.items():
        if isinstance(value, Mapping):
            yield from _local_paths(value)
        elif key == "filepath" and isinstance(value, str) and "://" not in value:
            yield value


def writable_folder(folder: Path) -> Path:
    """``folder``, created if needed, once a file could be written there; else an InputDataError naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise InputDataError(f"{folder}: cannot write there ({exc.strerror or exc}); the pipeline saves its outputs "
                             f"there. Make the folder writable (or free the disk) and run again.") from exc
    return folder
