"""The platform's record of itself: ``$AIRDECK_HOME/platform.json``.

Written when the metadata database is created or migrated: the Airflow version that did it and the
schema revision it left. `airdeck upgrade` compares it with the Airflow installed now; `airdeck up`
refuses to migrate a database silently to another Airflow version.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private

FILE = "platform.json"


def installed_airflow() -> str:
    """The Airflow version installed next to this airdeck."""
    return metadata.version("apache-airflow-core")


def read(home: AirdeckHome) -> dict[str, Any] | None:
    try:
        data = json.loads((home.root / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(home: AirdeckHome, airflow_version: str, revision: str | None, event: str) -> dict[str, Any]:
    """Record that ``airflow_version`` created or migrated the database (``event``: created, migrated, restored)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = read(home) or {"created_at": now, "created_by": airflow_version}
    history = list(data.get("history", []))[-19:]
    history.append({"at": now, "event": event, "airflow_version": airflow_version, "schema_revision": revision})
    data.update({"airflow_version": airflow_version, "schema_revision": revision, "updated_at": now,
                 "history": history})
    home.root.mkdir(parents=True, exist_ok=True)
    write_private(home.root / FILE, json.dumps(data, indent=2) + "\n")
    os.chmod(home.root / FILE, 0o600)
    return data
