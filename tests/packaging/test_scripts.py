"""scripts/up and scripts/test install from the lock file without undoing each other (issue 16, item 4)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _uv_arguments(script_args: str) -> list[str]:
    """The arguments scripts/lib.sh gives `uv sync` for ``install_python_deps ARGS`` (uv replaced by echo)."""
    command = (f'source "{REPO}/scripts/lib.sh"; uv_cmd() {{ echo "$@"; }}; '
               f"install_python_deps {script_args}")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_up_installs_without_removing_what_test_installed() -> None:
    up = (REPO / "scripts" / "up").read_text()
    assert "install_python_deps --no-dev" in up
    args = _uv_arguments("--no-dev")
    assert args[:2] == ["sync", "--frozen"] and "--no-dev" in args
    assert "--inexact" in args, "an exact sync without the dev group uninstalls pytest, ruff and bao"
    assert "--compile-bytecode" in args, "a user's first start would pay for compiling Airflow's bytecode"


def test_test_installs_exactly_with_the_dev_group() -> None:
    args = _uv_arguments("")
    assert "--inexact" not in args and "--no-dev" not in args


def test_the_docs_say_how_to_get_bao_for_a_local_vault() -> None:
    security = (REPO / "docs" / "security.md").read_text()
    assert ".venv/bin/bao server -dev" in security
    assert "uv sync --frozen --inexact" in security
