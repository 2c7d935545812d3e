"""What handlers return is shown one way: the JSON of a command is what its table shows, and text
from data (names, messages) is never taken for rich markup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airdeck.cli import output
from airdeck.cli.results import Column, Document, Note, Result, Table, Text
from rich.console import Console

from tests.cli.helpers import run


def _table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("│")]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_status_json_is_what_the_table_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    as_json = run(capsys, "--home", home, "status", "--json")
    shown = run(capsys, "--home", home, "status")
    assert as_json.code == shown.code == 1  # nothing runs: every service is stopped
    services = json.loads(as_json.out)["services"]
    rows = [_cells(line) for line in _table_lines(shown.out)]
    assert [s["name"] for s in services] == [r[0] for r in rows]
    assert "api-server" in [s["name"] for s in services]
    for service, row in zip(services, rows, strict=True):
        pid = "-" if service["pid"] is None else str(service["pid"])
        url = service["url"] or "-"
        assert row == [service["name"], service["state"], service["health"], pid, str(service["restarts"]), url]
        assert f"{service['name']}: {service['detail']}" in shown.out  # the cause, under the table
    assert not (tmp_path / "home").exists(), "status must write nothing"


def _table() -> Table:
    columns = (Column.of_key("name"), Column.of_key("note", empty="", limit=10),
               Column("both", lambda r: f"{r['name']}/{r['n']}"))
    return Table("things [bold]x[/]", "things", columns,
                 ({"name": "[red]a[/]", "note": None, "n": 1}, {"name": "b", "note": "a long note of text", "n": 2}),
                 extra={"count": 2})


def test_a_table_for_people_and_its_document_for_programs(capsys: pytest.CaptureFixture[str]) -> None:
    table = _table()
    output.render(Result.of(table, as_json=True), Console(stderr=True))
    assert json.loads(capsys.readouterr().out) == {"count": 2, "things": [
        {"name": "[red]a[/]", "note": None, "n": 1}, {"name": "b", "note": "a long note of text", "n": 2}]}
    output.render(Result.of(table), Console(stderr=True))
    out = capsys.readouterr().out
    assert "things [bold]x[/]" in out
    assert [_cells(line) for line in _table_lines(out)] == table.cells() == [
        ["[red]a[/]", "", "[red]a[/]/1"], ["b", "a long not", "b/2"]]


def test_blocks_go_where_people_and_programs_expect_them(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(stderr=True)
    output.render(Result.of(Note("done [/] here", "ok"), Note("broke [red]", "fail"), Note("careful", "warn"),
                            Text("plain [/]"), Text("raw", end=""), Text("to stderr", err=True),
                            Document({"k": "[/]"}, indent=None)), console)
    captured = capsys.readouterr()
    assert captured.out == 'plain [/]\nraw{"k": "[/]"}\n'
    assert "✓ done [/] here" in captured.err and "✗ broke [red]" in captured.err
    assert "careful" in captured.err and "to stderr" in captured.err


def test_error_lines_keep_markup_characters(capsys: pytest.CaptureFixture[str]) -> None:
    output.error("bad [/] value [red]x")
    assert capsys.readouterr().err == "error: bad [/] value [red]x\n"
