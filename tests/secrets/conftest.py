"""Fixtures of the secrets tests: a real OpenBao server per module, and the airdeck CLI against it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.openbao import OpenBao, openbao_server
from tests.harness import AIRDECK, REPO


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    with openbao_server(tmp_path_factory.mktemp("openbao")) as server:
        yield server


def run_airdeck(home: Path, config: Path | None, *args: str, token: str | None = None,
                stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VAULT_", "AIRDECK_"))}
    env["AIRDECK_HOME"] = str(home)
    if config is not None:
        env["AIRDECK_CONFIG"] = str(config)
    if token is not None:
        env["VAULT_TOKEN"] = token
    return subprocess.run([*AIRDECK, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=REPO)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
