"""Find the files airdeck ships with its code: the StatsD mapping, the Prometheus configuration and
rules, the Grafana dashboards and provisioning, the roles file and the example DAGs.

The sources stay in the repository's top-level folders (``prometheus/``, ``grafana/``,
``security/``); ``platform/airdeck/data/`` holds committed symbolic links to them, so the same
relative names resolve through :mod:`importlib.resources` in a checkout, in an editable install and in
an installed wheel (the wheel build follows the links and packs the files themselves)::

    data_path("prometheus/statsd-mapping.yml")   # a file
    data_path("grafana/dashboards")              # a folder

Bottom layer: imports nothing from airdeck but :mod:`airdeck.errors`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path, PurePosixPath

from airdeck.errors import AirdeckError

#: The package whose folders hold the shipped files.
PACKAGE = "airdeck"
#: The folder of the package that mirrors the repository's data folders.
DATA_FOLDER = "data"
#: The folder of the package that holds the example DAGs.
EXAMPLE_DAGS_FOLDER = "example_dags"


class ResourceNotFoundError(AirdeckError):
    """A file that airdeck ships with its code is not where the installed package should have it."""


def package_root() -> Path:
    """The installed ``airdeck`` package folder (a real folder: airdeck is never imported from a zip)."""
    root = resources.files(PACKAGE)
    if not isinstance(root, Path):
        raise ResourceNotFoundError(
            f"the airdeck package is loaded from {root} (an archive), so the files it ships cannot be "
            "given to other programs by path; install airdeck as a regular package (pip or uv) instead"
        )
    return root


def data_root() -> Path:
    """The folder of the shipped data files: ``airdeck/data`` inside the installed package."""
    return package_root() / DATA_FOLDER


def data_path(relative: str) -> Path:
    """The shipped file or folder ``relative`` (e.g. ``"prometheus/statsd-mapping.yml"``).

    The path has its links resolved: in a checkout it is the repository's own file (what a person
    edits), in an installed wheel the copy inside the package. Raises :class:`ResourceNotFoundError`
    when it is missing, naming where it was looked for.
    """
    parts = _checked_parts(relative)
    path = data_root().joinpath(*parts)
    if not path.exists():
        raise ResourceNotFoundError(
            f"airdeck's packaged file {relative} is missing: looked for {path}. The installation is "
            "incomplete; reinstall airdeck (scripts/up in a checkout, or pip/uv install of the wheel)"
        )
    return path.resolve()


def example_dags_folder() -> Path:
    """The folder of the example DAGs shipped inside the package."""
    path = package_root() / EXAMPLE_DAGS_FOLDER
    if not path.is_dir():
        raise ResourceNotFoundError(
            f"airdeck's example DAGs are missing: looked for the folder {path}. The installation is "
            "incomplete; reinstall airdeck (scripts/up in a checkout, or pip/uv install of the wheel)"
        )
    return path


def _checked_parts(relative: str) -> tuple[str, ...]:
    """The parts of a relative POSIX name; absolute names and ``..`` are refused (a caller's mistake)."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ValueError(
            f"{relative!r} is not a name inside airdeck's data folder; "
            "write a relative path with forward slashes, e.g. 'prometheus/statsd-mapping.yml'"
        )
    return pure.parts


__all__ = ["ResourceNotFoundError", "data_path", "data_root", "example_dags_folder", "package_root"]
