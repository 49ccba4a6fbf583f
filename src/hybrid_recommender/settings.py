"""Kedro project settings."""

import warnings

from kedro.config import OmegaConfigLoader

from hybrid_recommender.config_resolvers import CUSTOM_RESOLVERS
from hybrid_recommender.hooks import RunInterruptHooks, RunNameHook, TorchThreadsHook

# Third-party deprecation chatter that buries the project's own warnings (e.g. a missing optional data set).
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

# An interrupted run (SIGINT, SIGTERM) ends its MLflow run as KILLED and leaves complete files only;
# torch's thread count is set once per run; the MLflow run is named after its pipelines and environment.
HOOKS = (RunInterruptHooks(), TorchThreadsHook(), RunNameHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single keys of a parameter file without wiping their siblings.
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
    "custom_resolvers": CUSTOM_RESOLVERS,
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "globals": ["globals*", "globals*/**", "**/globals*"],
    },
}
