"""What Airflow schema revisions the installed Airflow knows, read from its migration scripts.

Each script under ``airflow/migrations/versions`` is named ``NNNN_X_Y_Z_what.py`` (the Airflow release
that added it) and declares ``revision = "…"``; reading the files is enough, nothing is imported.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

from airdeck.errors import AirdeckError

_REVISION = re.compile(r"""^revision\s*=\s*['"]([0-9a-f]+)['"]""", re.MULTILINE)
_NAME = re.compile(r"^(\d{4})_(\d+)_(\d+)_(\d+)_")


def _versions_dir() -> Path:
    spec = importlib.util.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        raise AirdeckError("Airflow is not installed next to airdeck; reinstall airdeck from the lock file")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations" / "versions"


@cache
def known_revisions() -> dict[str, tuple[int, str]]:
    """revision -> (sequence number, Airflow release that added it)."""
    out: dict[str, tuple[int, str]] = {}
    for script in sorted(_versions_dir().glob("[0-9]*.py")):
        match = _REVISION.search(script.read_text(encoding="utf-8"))
        name = _NAME.match(script.name)
        if match and name:
            out[match.group(1)] = (int(name.group(1)), ".".join(name.group(2, 3, 4)))
    return out


def head() -> str:
    revisions = known_revisions()
    return max(revisions, key=lambda r: revisions[r][0])


def is_known(revision: str) -> bool:
    return revision in known_revisions()


def behind(revision: str) -> bool:
    """The schema at ``revision`` needs `airflow db migrate` to reach this Airflow's head."""
    return revision != head()
