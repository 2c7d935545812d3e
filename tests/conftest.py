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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files that boot a whole platform first (stable otherwise): with the suite split over two
    processes by file, the longest files start early and the short ones fill in around them."""
    def boots_stack(item: pytest.Item) -> bool:
        return item.get_closest_marker("stack") is not None

    stack_files = {item.nodeid.split("::", 1)[0] for item in items if boots_stack(item)}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in stack_files)
