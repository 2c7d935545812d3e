"""The backups concern: the ``backup`` component when ``backup.schedule`` is set (local target).

The component runs ``python -m airdeck.ops.scheduled`` under supervisord; the backup code itself lives
in ``airdeck.ops`` (above the targets), so this concern names it only in the command line. On
Kubernetes there is no component: a CronJob runs `airdeck backup` (docs/operations.md).
"""

from __future__ import annotations

import sys

from airdeck.plan.build import API_SERVER
from airdeck.plan.concern import Concern, PlanContext
from airdeck.plan.model import Component

BACKUP = "backup"


class BackupsConcern(Concern):
    name = "backups"

    def components(self, ctx: PlanContext) -> list[Component]:
        cfg = ctx.cfg
        if cfg.backup.schedule is None or ctx.endpoints.kubernetes:
            return []
        argv = [sys.executable, "-m", "airdeck.ops.scheduled", "--home", str(ctx.home.root)]
        if cfg.source is not None:
            argv += ["--config", str(cfg.source)]
        # It needs the database only: it starts with the last wave, as the other helpers do.
        return [Component(BACKUP, "backup", tuple(argv), env={"PYTHONUNBUFFERED": "1"}, start_secs=1,
                          depends_on=(API_SERVER,))]
