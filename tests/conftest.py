"""Fixtures shared by several test packages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.servers import SlackReceiver


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    """A local server that speaks Slack's incoming-webhook contract."""
    receiver = SlackReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
