"""The CLI's shape: every command group is a module that registers handlers; main names none of them."""

from __future__ import annotations

import argparse
import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from airdeck.cli import commands
from airdeck.cli import main as cli_main
from airdeck.cli.main import build_parser, main
from airdeck.cli.results import Result

from tests.cli.helpers import run, run_child

#: Commands whose arguments go to another program (its own --help is tested separately).
PASSTHROUGH = {("airflow",)}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                                         argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, (*path, name))


LEAVES = [path for path, _parser in _leaves(build_parser())]


def test_every_command_module_registers_handlers() -> None:
    found = commands.modules()
    assert {m.__name__.rsplit(".", 1)[1] for m in found} >= {
        "lifecycle", "config", "airflow_passthrough", "run", "fernet", "vault", "tls", "ldap", "rbac", "alerts",
        "metrics_bridge"}
    for module in found:
        assert (module.__doc__ or "").strip(), f"{module.__name__} has no docstring"
        parser = argparse.ArgumentParser(prog="airdeck")
        sub = parser.add_subparsers(dest="command")
        module.register(sub)
        assert sub.choices, f"{module.__name__}.register added no command"
        for path, leaf in _leaves(parser):
            handler = leaf.get_default("handler")
            assert callable(handler), f"{module.__name__}: `{' '.join(path)}` has no handler"
            params = list(inspect.signature(handler).parameters)
            assert params == ["ctx"], f"{module.__name__}: {handler.__name__}{params} is not handler(ctx)"
            assert inspect.signature(handler).return_annotation in ("Result", Result)


def test_the_commands_of_before_are_all_there() -> None:
    assert set(LEAVES) >= {
        ("up",), ("down",), ("status",), ("logs",), ("credentials",), ("config", "validate"), ("config", "render"),
        ("config", "schema"), ("airflow",), ("run",), ("fernet", "status"), ("fernet", "rotate"),
        ("vault", "bootstrap"), ("vault", "put-connection"), ("vault", "put-variable"), ("tls", "init"),
        ("ldap", "check"), ("rbac", "sync"), ("rbac", "export"), ("alerts", "test"), ("alerts", "list"),
        ("metrics-bridge",)}


def test_main_names_no_command_group() -> None:
    tree = ast.parse(Path(cli_main.__file__).read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.startswith("airdeck.cli.commands.")]
    source = Path(cli_main.__file__).read_text(encoding="utf-8")
    for module in commands.modules():
        assert f"commands.{module.__name__.rsplit('.', 1)[1]}" not in source


@pytest.mark.parametrize("path", [p for p in LEAVES if p not in PASSTHROUGH], ids=" ".join)
def test_help_of_every_command(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*path, "--help"])  # a passthrough (metrics-bridge) returns its program's code
    except SystemExit as exited:
        code = exited.code  # type: ignore[assignment]
    assert code == 0
    out = capsys.readouterr().out
    assert "usage:" in out.lower() and "--" in out


def test_help_of_the_group_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for group in sorted({p[0] for p in LEAVES if len(p) > 1}):
        with pytest.raises(SystemExit) as exited:
            run(capsys, group, "--help")
        assert exited.value.code == 0
        assert "ACTION" in capsys.readouterr().out


def test_airflow_passthrough_hands_help_to_airflow(tmp_path: Path) -> None:
    result = run_child(tmp_path, "airflow", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: airflow" in result.stdout.lower()
