"""Text from outside (task logs, directory entries, archives, databases) made inert for a terminal.

A task log, an LDAP role name or an archive header can hold bytes that a terminal obeys rather than
shows: ESC and C1 sequences (colours, cursor moves, window titles, OSC 8 links), a carriage return
that overwrites the line, BEL, NUL, Unicode bidi overrides that show text in another order. Every
printer of such text passes it through :func:`inert`, which shows each of these characters escaped
(``\\x1b``, ``\\r``, ``\\u202e``) so that what the operator reads is what the data holds. Rich markup
is a separate matter: printers show text as literal rich ``Text`` (or ``rich.markup.escape`` it).

This module sits at the bottom of airdeck's import layers, so that every layer (``cli``, ``ops``,
``stack``, the concerns) can call it.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories a terminal may act on instead of showing: controls (C0, DEL, C1), format
#: characters (bidi embeddings, overrides and isolates, zero-width characters), line and paragraph
#: separators, lone surrogates (from undecodable bytes).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: The zero-width joiner stays: it builds emoji sequences and moves no text.
_KEPT = frozenset({"\u200d"})
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _unsafe(char: str) -> bool:
    return char not in _KEPT and unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def inert(text: str, *, multiline: bool = True) -> str:
    """``text`` with every character a terminal could act on shown escaped.

    Tabs are kept; line feeds are kept when ``multiline`` (a log of many lines), escaped otherwise (a
    table cell, a name, a header field: one line that must not look like two)."""
    keep = "\t\n" if multiline else "\t"
    if all(c in keep or not _unsafe(c) for c in text):
        return text
    return "".join(c if c in keep or not _unsafe(c) else _escaped(c) for c in text)


def inert_json(document: str) -> str:
    """A JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with the characters that
    :func:`inert` escapes written as JSON ``\\uXXXX`` escapes: the same document for a program, inert
    on a terminal. (C0 controls are escaped by ``json`` itself.)"""
    if not any(c != "\n" and _unsafe(c) for c in document):
        return document
    return "".join(_json_char(c) for c in document)


def _json_char(char: str) -> str:
    if char == "\n" or not _unsafe(char):
        return char
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
