"""docs/architecture.md names every package under platform/airdeck/ (read from the file system)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = REPO / "platform" / "airdeck"
DOC = REPO / "docs" / "architecture.md"


def packages(root: Path = PACKAGE_ROOT) -> list[str]:
    """Dotted names of every package (a folder with ``__init__.py``) below ``airdeck``, links not followed."""
    found = []
    for init in sorted(root.rglob("__init__.py")):
        parts = init.parent.relative_to(root).parts
        linked = any(root.joinpath(*parts[: i + 1]).is_symlink() for i in range(len(parts)))
        if parts and not linked:
            found.append(".".join(("airdeck", *parts)))
    return found


def named_in(text: str, package: str) -> bool:
    """The doc names ``airdeck.x`` (or a module of it, ``airdeck.x.y``), or the path ``platform/airdeck/x``."""
    dotted = re.escape(package)
    path = re.escape("platform/" + package.replace(".", "/"))
    return re.search(rf"(?<![\w.]){dotted}(?![\w])|{path}(?![\w])", text) is not None


def test_the_package_list_comes_from_the_file_system() -> None:
    found = packages()
    assert "airdeck.config" in found and "airdeck.stack" in found
    assert all(name.count(".") >= 1 for name in found)
    assert "airdeck.example_dags" not in found  # DAG files, not a package
    assert not any(name.startswith("airdeck.data") for name in found)  # shipped data, not code


def test_named_in_accepts_the_package_or_its_modules_and_nothing_else() -> None:
    assert named_in("| `airdeck.stack.services` | the services |", "airdeck.stack")
    assert named_in("see airdeck.plan.", "airdeck.plan")
    assert named_in("lives in platform/airdeck/tls/", "airdeck.tls")
    assert not named_in("airdeck.stacks is another thing", "airdeck.stack")
    assert not named_in("`myairdeck.auth`", "airdeck.auth")
    assert not named_in("the auth concern", "airdeck.auth")


def test_architecture_doc_names_every_package() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in packages() if not named_in(text, name)]
    assert not missing, (
        f"{DOC.relative_to(REPO)} does not name these packages of platform/airdeck/: {', '.join(missing)}. "
        "Add each (as `airdeck.<name>`, with its one job) to the doc."
    )
