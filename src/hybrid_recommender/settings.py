"""Kedro project settings."""

import warnings

from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS  # noqa: F401 - read by Kedro
from hybrid_recommender.hooks import (
    ParameterCheckHook,
    RunInterruptHooks,
    RunNameHook,
    TorchThreadsHook,
    WritableOutputsHook,
)

# Third-party chatter that buries the project's own warnings (e.g. a missing optional data set); the config
# loader's own is silenced in config_loader.py.
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

# The environment and every parameter are checked, and the output folders tried, before anything runs; an
# interrupted run (SIGINT, SIGTERM) ends its MLflow run as KILLED and leaves complete files only; torch's thread
# count is set once per run; the MLflow run is named after its pipelines and environment.
HOOKS = (ParameterCheckHook(), WritableOutputsHook(), RunInterruptHooks(), TorchThreadsHook(), RunNameHook())
