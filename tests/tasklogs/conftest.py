"""Fixtures of the task log tests: the emulators (one of each per session, started on first use)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tasklogs import emulators


@pytest.fixture(scope="session")
def moto() -> Iterator[emulators.Emulator]:
    server = emulators.start_moto()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[emulators.Emulator]:
    server = emulators.start_fake_gcs()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def azurite() -> Iterator[emulators.Emulator]:
    if not emulators.azurite_available():
        pytest.skip(f"Azurite is not installed at {emulators.AZURITE_BIN} (scripts/test installs it from npm)")
    server = emulators.start_azurite()
    try:
        yield server
    finally:
        server.close()
