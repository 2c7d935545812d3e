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


#: The per-test limit (pytest-timeout) of a test that boots a platform and carries no ``timeout`` marker of
#: its own: a cold boot on a busy 2-core machine, a few DAG runs (the harness waits up to 600 s for one)
#: and the stop. Tests whose own subprocess limits add up to more name a longer ``timeout`` themselves.
STACK_TIMEOUT = 1800


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, keep the order :func:`pytest_collection_modifyitems` gives the files.

    xdist's loadfile scheduler (3.8) re-sorts the files by their number of tests unless
    ``--no-loadscope-reorder`` is given; the platform files, which hold few tests each, would then start
    last, both processes booting platforms at the end of the run. Set here rather than in scripts/test so
    that every ``pytest -n N --dist loadfile`` keeps the suite's order."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files that boot a whole platform first (stable otherwise): with the suite split over two
    processes by file, the longest files start early and the short ones fill in around them. A test
    that boots a platform and names no ``timeout`` gets :data:`STACK_TIMEOUT` instead of the default."""
    def boots_stack(item: pytest.Item) -> bool:
        return item.get_closest_marker("stack") is not None

    stack_files = {item.nodeid.split("::", 1)[0] for item in items if boots_stack(item)}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in stack_files)
    for item in items:
        if boots_stack(item) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(STACK_TIMEOUT))
