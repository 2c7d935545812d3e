"""The command groups of ``airdeck``, one module each, found here so that ``cli.main`` names none.

A command module has a docstring, a ``register(sub)`` that adds its sub-parsers, each with
``set_defaults(handler=…)`` (a :data:`airdeck.cli.context.Handler`), and optionally ``ORDER``: where
its commands appear in ``airdeck --help`` (lower first; default 50).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands


def modules() -> list[ModuleType]:
    """Every command module of this package, in help order."""
    found = [importlib.import_module(f"{__name__}.{info.name}")
             for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    return sorted(found, key=lambda module: (getattr(module, "ORDER", 50), module.__name__))


def register_all(sub: Subcommands) -> None:
    for module in modules():
        module.register(sub)
