"""Project-relative paths, resolved from this file rather than the working directory."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
