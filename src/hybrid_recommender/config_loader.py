"""How Kedro reads conf/: the config loader's class and arguments, in one module that settings.py, the hooks
and the ``recommend`` command all import (settings.py imports the hooks, so the hooks cannot import it)."""

import warnings

from kedro.config import OmegaConfigLoader

from hybrid_recommender.config_resolvers import CUSTOM_RESOLVERS

# Kedro's loader calls OmegaConf's deprecated register_new_resolver: chatter above the project's own warnings.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")

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
        # The Spark session's settings (conf/<env>/spark.yml), read by hooks.SparkHooks for engine spark only.
        "spark": ["spark*", "spark*/**"],
    },
}
