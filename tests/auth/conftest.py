"""Fixtures of the auth tests: a real OpenLDAP slapd with a small directory (see slapd.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.slapd import SLAPD, Slapd


def slapd_missing_reason() -> str | None:
    if not (os.path.exists(SLAPD) or shutil.which("slapd")):
        return ("OpenLDAP slapd is not installed: apt-get install -y slapd ldap-utils "
                "(CI installs it; these tests need a real directory)")
    return None


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    reason = slapd_missing_reason()
    if reason:
        pytest.skip(reason)
    server = Slapd(Path(tmp_path_factory.mktemp("slapd")))
    server.start()
    try:
        server.populate()
        yield server
    finally:
        server.stop()
