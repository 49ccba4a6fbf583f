"""The CLI tests run real `kedro run`s in ``project_copy`` (tests/conftest.py), never in the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

BIN = Path(sys.executable).parent
