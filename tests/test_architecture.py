"""The import rules, held by the import-linter contracts in pyproject.toml: one test per contract, so a failure
names the rule that broke and the imports that break it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_contracts_cover_the_rules_of_the_issue():
    kinds = {c["type"] for c in CONTRACTS}
    assert {"layers", "forbidden", "acyclic_siblings"} <= kinds
    forbidden = {m for c in CONTRACTS if c["type"] == "forbidden" for m in c["forbidden_modules"]}
    assert {"kedro", "pytorch_lightning", "mlflow", "hybrid_recommender.face_models.training"} <= forbidden


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c["id"] for c in CONTRACTS])
def test_import_contract_is_kept(contract):
    run = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", "--contract", contract["id"]],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    broken = report.split("Broken contracts", 1)[-1].strip()
    if run.returncode != 0:
        pytest.fail(f"import contract {contract['name']!r} ({contract['id']}) is broken:\n{broken}", pytrace=False)
