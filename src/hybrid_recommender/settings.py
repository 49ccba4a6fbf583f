"""Kedro project settings."""

import warnings

from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS  # noqa: F401 - read by Kedro
from hybrid_recommender.hooks import (
    ParameterCheckHook,
    RunInterruptHooks,
    RunNameHook,
    SparkHooks,
    TorchThreadsHook,
    WritableOutputsHook,
)

# Third-party chatter that buries the project's own warnings (e.g. a missing optional data set); the config
# loader's own is silenced in config_loader.py.
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")
# PySpark (engine spark) warns that it "does not yet fully support pandas >= 3.0.0" whenever something imports
# pyspark.pandas; the project converts only int and float columns (recommender/spark_als.py).
warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")

# The environment and every parameter are checked, and the output folders tried, before anything runs; an
# interrupted run (SIGINT, SIGTERM) ends its MLflow run as KILLED and leaves complete files only; torch's thread
# count is set once per run; the MLflow run is named after its pipelines and environment; the Spark session of
# `recommendation.engine: spark` is started from conf/<env>/spark.yml (only for that engine) and stopped after the run.
HOOKS = (ParameterCheckHook(), WritableOutputsHook(), RunInterruptHooks(), TorchThreadsHook(), RunNameHook(),
         SparkHooks())
