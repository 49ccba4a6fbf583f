"""Kedro project settings."""

import warnings

from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS  # noqa: F401 - read by Kedro
from hybrid_recommender.hooks import RunInterruptHooks, RunNameHook, TorchThreadsHook

# Third-party deprecation chatter that buries the project's own warnings (e.g. a missing optional data set).
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

# An interrupted run (SIGINT, SIGTERM) ends its MLflow run as KILLED and leaves complete files only;
# torch's thread count is set once per run; the MLflow run is named after its pipelines and environment.
HOOKS = (RunInterruptHooks(), TorchThreadsHook(), RunNameHook())
