"""Text from outside reaches the terminal inert (issue 22, finding 8): every block the CLI prints, and
:func:`airdeck.terminal.inert` itself, shows control characters, bidi overrides and rich markup as text."""

from __future__ import annotations

import json
import unicodedata

import pytest
from airdeck.cli import output
from airdeck.cli.results import Column, Document, Note, Result, Table, Text
from airdeck.terminal import inert
from rich.console import Console

#: ESC (CSI, OSC title, OSC 8 link), CR, BEL, NUL, backspace, DEL, C1 CSI and NEL, bidi override and
#: isolate, line separator, rich markup.
HOSTILE = ("\x1b[31mred\x1b]0;title\x07\x1b]8;;http://evil/\x1b\\L\x1b]8;;\x1b\\ a\rb\x07\x00\x08\x7f"
           "\x9b2J\x85 \u202eevil\u202c \u2067iso\u2069 x\u2028y [red]markup[/] [/]")


def _terminal_safe(text: str) -> bool:
    return all(c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp", "Cs") or c == "\u200d"
               for c in text)


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31m", "\\x1b[31m"), ("a\rb", "a\\rb"), ("\x07", "\\x07"), ("\x00", "\\x00"), ("\x9b", "\\x9b"),
    ("\u202e", "\\u202e"), ("\U000e0001", "\\U000e0001"), ("\ud800", "\\ud800"), ("[red]x[/]", "[red]x[/]"),
    ("a\tb\nc", "a\tb\nc"), ("héllo ✓ 日本", "héllo ✓ 日本"), ("👩\u200d💻", "👩\u200d💻"),
])
def test_inert_escapes_what_a_terminal_obeys(raw: str, shown: str) -> None:
    assert inert(raw) == shown


def test_inert_on_one_line_escapes_line_breaks_too() -> None:
    assert inert("role\nAdmin\r\n", multiline=False) == "role\\nAdmin\\r\\n"
    assert _terminal_safe(inert(HOSTILE, multiline=False)) and "\n" not in inert(HOSTILE + "\n", multiline=False)


def test_inert_leaves_every_printable_character_alone() -> None:
    printable = "".join(chr(c) for c in range(0x20, 0x3000)
                        if unicodedata.category(chr(c)) not in ("Cc", "Cf", "Zl", "Zp", "Cs"))
    assert inert(printable) == printable


def test_every_block_kind_prints_hostile_text_inert(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(file=None, stderr=True, width=200)
    table = Table("roles " + HOSTILE, "roles", (Column.of_key("name"),),
                  ({"name": HOSTILE},), footnotes=(("note " + HOSTILE, HOSTILE),))
    short = Table("t", "rows", (Column.of_key("why"),), ({"why": "multi\nline"},))
    output.render(Result.of(Text(HOSTILE), Text(HOSTILE, err=True), Note(HOSTILE, "fail"), Note(HOSTILE, "warn"),
                            table, short), console)
    output.error(HOSTILE)
    out, err = capsys.readouterr()
    assert _terminal_safe(out) and _terminal_safe(err), (out, err)
    assert out.count("[red]markup[/] [/]") >= 2 and err.count("[red]markup[/] [/]") == 4
    assert "\\x1b[31mred" in out and "a\\rb" in err and "\\u202eevil" in err
    assert "multi\\nline" in out  # one table cell stays one line


@pytest.mark.parametrize("indent", [None, 2])
def test_json_keeps_the_data_and_is_inert(capsys: pytest.CaptureFixture[str], indent: int | None) -> None:
    data = {"name": HOSTILE, "emoji": "✓ 👩\u200d💻", "astral": "\U000e0001"}
    output.render(Result.of(Document(data, indent=indent)), Console(stderr=True))
    out = capsys.readouterr().out
    assert json.loads(out) == data
    assert _terminal_safe(out)
    table = Table("t", "rows", (Column.of_key("name"),), ({"name": HOSTILE},))
    output.render(Result.of(table, as_json=True), Console(stderr=True))
    out = capsys.readouterr().out
    assert json.loads(out) == {"rows": [{"name": HOSTILE}]} and _terminal_safe(out)
