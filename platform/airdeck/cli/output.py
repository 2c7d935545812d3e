"""The one place that prints what commands return: rich tables and notes for people, JSON for programs.

Every piece of text that comes from data (service names, error messages, log lines) is shown as
literal text, never as rich markup, so ``[/]`` or ``[red]`` in a message is printed as it is, and
made inert (:func:`airdeck.terminal.inert`): escape sequences, carriage returns, other control
characters and bidi overrides are shown escaped (``\x1b``), never obeyed by the terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text as RichText

from airdeck.cli.results import Block, Document, Note, Result, Table, Text
from airdeck.config.masking import mask
from airdeck.terminal import inert, inert_json

#: Width of tables when standard output is not a terminal (pipes, files, CI logs).
PIPE_WIDTH = 140

_MARKS = {"ok": ("✓ ", "green"), "fail": ("✗ ", "red")}
_STYLES = {"warn": "yellow", "bad": "red"}


def render(result: Result, console: Console) -> None:
    """Show every block of ``result``: notes on ``console`` (standard error), the rest on standard output."""
    for block in result.blocks:
        show(block, console, as_json=result.as_json)


def show(block: Block, console: Console, as_json: bool = False) -> None:
    if isinstance(block, Note):
        console.print(note_text(block))
    elif isinstance(block, Text):
        stream = sys.stderr if block.err else sys.stdout
        stream.write(inert(block.text) + block.end)
        stream.flush()
    elif isinstance(block, Document):
        _json(block.data, block.indent)
    elif as_json:
        _json(block.document(), 2)
    else:
        out = _stdout()
        out.print(rich_table(block))
        for label, text in block.footnotes:
            out.print(RichText.assemble((inert(label, multiline=False), "red"), ": ", inert(text)))


def note_text(note: Note) -> RichText:
    """A note as rich text: the mark (✓/✗) coloured, the message literal."""
    if note.kind in _MARKS:
        mark, style = _MARKS[note.kind]
        return RichText.assemble((mark, style), inert(note.text))
    return RichText(inert(note.text), style=_STYLES.get(note.kind, ""))


def rich_table(table: Table) -> RichTable:
    out = RichTable(title=RichText(inert(table.title, multiline=False)), title_justify="left")
    for column in table.columns:
        out.add_column(RichText(inert(column.header, multiline=False)), no_wrap=True, overflow="fold")
    for record in table.records:
        out.add_row(*(RichText(inert(column.cell(record), multiline=False), style=column.style(record) or "")
                      for column in table.columns))
    return out


def error(message: str, secrets: Iterable[str | None] = ()) -> None:
    """The one line an error prints: plain text on standard error, whatever characters it holds, with the
    credentials of any URL in it and every known secret masked."""
    sys.stderr.write(f"error: {inert(mask(message, secrets))}\n")
    sys.stderr.flush()


def _json(data: object, indent: int | None) -> None:
    sys.stdout.write(inert_json(json.dumps(data, indent=indent, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def _stdout() -> Console:
    console = Console(file=sys.stdout)
    return console if console.is_terminal else Console(file=sys.stdout, width=PIPE_WIDTH)
