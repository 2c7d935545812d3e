"""What a command handler returns: data for `airdeck.cli.output` to show, and the exit code.

Handlers never print (streaming commands aside); they build a :class:`Result` from these blocks:

* :class:`Table`: records shown as a table for people, or as a JSON document with ``--json``;
  every cell is computed from its record, so the JSON holds what the table shows;
* :class:`Document`: a JSON document on standard output;
* :class:`Text`: text on standard output (or standard error) exactly as given;
* :class:`Note`: a message for people on the console (standard error), marked ✓/✗ or coloured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One column of a :class:`Table`: its header, how a record's cell reads, and its colour."""

    header: str
    cell: Callable[[Record], str]
    style: Callable[[Record], str | None] = field(default=lambda _record: None)

    @classmethod
    def of_key(cls, header: str, key: str | None = None, *, empty: str = "-", limit: int | None = None,
               styles: Mapping[str, str] | None = None) -> Column:
        """A column showing ``record[key]`` (``empty`` for None or ""), cut to ``limit`` characters,
        coloured by value through ``styles``."""
        name = key or header

        def cell(record: Record) -> str:
            value = record.get(name)
            text = empty if value is None or value == "" else str(value)
            return text[:limit] if limit is not None else text

        def style(record: Record) -> str | None:
            return (styles or {}).get(str(record.get(name)))

        return cls(header, cell, style)


@dataclass(frozen=True)
class Table:
    """Records for people (a table titled ``title``) and for programs (``{**extra, key: records}``).

    ``footnotes`` are (label, text) lines printed under the table for people only."""

    title: str
    key: str
    columns: tuple[Column, ...]
    records: tuple[Record, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    footnotes: tuple[tuple[str, str], ...] = ()

    def document(self) -> dict[str, Any]:
        return {**self.extra, self.key: [dict(r) for r in self.records]}

    def cells(self) -> list[list[str]]:
        """The text of every cell, row by row, as the table shows it."""
        return [[column.cell(record) for column in self.columns] for record in self.records]


@dataclass(frozen=True)
class Document:
    """A JSON document for programs (``indent=None``: one line)."""

    data: Any
    indent: int | None = 2


@dataclass(frozen=True)
class Text:
    """Text written as given (``end`` appended), on standard output unless ``err``."""

    text: str
    end: str = "\n"
    err: bool = False

    @classmethod
    def lines(cls, lines: Sequence[str], err: bool = False) -> Text:
        return cls("\n".join(lines), err=err)


NoteKind = Literal["plain", "ok", "fail", "warn", "bad"]


@dataclass(frozen=True)
class Note:
    """A message for people: ``ok`` (✓), ``fail`` (✗), ``warn`` (yellow), ``bad`` (red) or ``plain``."""

    text: str
    kind: NoteKind = "plain"


Block = Table | Document | Text | Note


@dataclass(frozen=True)
class Result:
    """What a command produced: blocks shown in order, then the process exits with ``exit_code``.

    ``as_json``: tables are shown as their JSON document (the command's ``--json``)."""

    blocks: tuple[Block, ...] = ()
    exit_code: int = 0
    as_json: bool = False

    @classmethod
    def of(cls, *blocks: Block, exit_code: int = 0, as_json: bool = False) -> Result:
        return cls(tuple(blocks), exit_code, as_json)
