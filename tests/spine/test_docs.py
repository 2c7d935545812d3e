"""The docs that are generated from code are current, and the README's commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_model() -> None:
    result = subprocess.run([sys.executable, "-m", "airdeck.config.reference", "--check", "docs/configuration.md"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_readme_commands_exist_and_are_executable() -> None:
    readme = (REPO / "README.md").read_text()
    for script in ("scripts/up", "scripts/test"):
        assert script in readme
        assert os.access(REPO / script, os.X_OK), script
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test" in ci


def test_readme_links_resolve() -> None:
    readme = (REPO / "README.md").read_text()
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in link:
            assert (REPO / link).exists(), link
