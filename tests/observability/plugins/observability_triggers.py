"""A trigger for the live observability test that blocks the triggerer's event loop.

It sleeps synchronously (the mistake the triggerer's ``triggers.blocked_main_thread`` counter is
there to catch) every few seconds, for as long as it runs, so that the counter keeps growing. It lives
in the plugins folder so that both the worker that defers to it and the triggerer that runs it can import it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

PAUSE = 5.0  # seconds between two blocks


class BlockingTrigger(BaseTrigger):
    """Block the event loop for ``seconds`` every ``PAUSE`` seconds; never fires."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("observability_triggers.BlockingTrigger", {"seconds": self.seconds})

    async def run(self):  # type: ignore[override]
        while True:
            time.sleep(self.seconds)  # deliberately blocking
            await asyncio.sleep(PAUSE)
        yield TriggerEvent({"blocked": self.seconds})  # never reached: the run is stopped under it
