"""The layers are a checked contract (pyproject.toml, [tool.importlinter]); a broken one names the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy's packages, not the installed ones
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "injected", "named"),
    [
        ("dialogs/check/service.py", "import aiogram", "dialogs.check.service -> aiogram"),
        ("storage/models.py", "import dialogs.text", "storage.models -> dialogs.text"),
        ("dialogs/overview/router.py", "import dialogs.check.flow", "dialogs.overview.router -> dialogs.check.flow"),
        ("dialogs/people.py", "import bot.config", "dialogs.people -> bot.config"),
        ("emulator/models.py", "import storage.types", "emulator.models -> storage.types"),
    ],
)
def test_a_broken_contract_fails_with_the_import_named(
    tmp_path: Path, module: str, injected: str, named: str
) -> None:
    for name in ("bot", "dialogs", "storage", "emulator"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{injected}  # the offending import\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout
