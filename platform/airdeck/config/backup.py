"""The ``backup:`` section of airdeck.yaml: scheduled backups the platform takes itself, and their retention.

`airdeck backup` works without this section (it asks for or reads the passphrase); the section turns
on the ``backup`` service, which writes an encrypted archive every ``schedule`` into ``folder`` and
keeps the newest ``keep``. The passphrase (or key file) is read from a 0600 file at each run, never
from the environment or a command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from airdeck.config.base import Between, Duration, Section, WholeSeconds


class BackupSettings(Section):
    """Backups of the metadata database, the secrets that read it and the configuration."""

    schedule: Annotated[Duration, Between("15m", "30d"), WholeSeconds] | None = Field(
        None, description=("Time between two scheduled backups (e.g. 1d for daily, 6h); null: no scheduled "
                           "backups (`airdeck backup` still works)."))
    keep: int = Field(7, ge=1, le=1000, description="Scheduled backups kept in folder; older ones are removed.")
    folder: Path | None = Field(
        None, description=("Folder of backup archives (scheduled ones, and `airdeck backup` without --to). "
                           "Default: $AIRDECK_HOME/backups; put it on another disk."))
    passphrase_file: Path | None = Field(
        None, description="0600 file holding the passphrase that locks the archives.")
    key_file: Path | None = Field(
        None, description="0600 file of at least 32 random bytes that locks the archives (instead of a passphrase).")

    @model_validator(mode="after")
    def _one_lock(self) -> BackupSettings:
        if self.passphrase_file is not None and self.key_file is not None:
            raise ValueError("give backup.passphrase_file or backup.key_file, not both")
        if self.schedule is not None and self.passphrase_file is None and self.key_file is None:
            raise ValueError("scheduled backups (backup.schedule) need backup.passphrase_file or backup.key_file: "
                             "the platform reads the passphrase from that file at each run")
        return self
