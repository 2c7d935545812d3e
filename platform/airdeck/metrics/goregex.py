"""Go (RE2) regular expressions and template expansion for ``match_type: regex`` mappings.

statsd_exporter compiles ``match`` with Go's ``regexp`` and expands ``name``/label templates with
``Regexp.ExpandString``. Python's ``re`` accepts constructs RE2 rejects (look-around,
back-references, atomic groups, possessive quantifiers, conditionals) and has different
``\\d``/``\\w`` classes and template syntax. :func:`compile_go_regex` translates the common subset
and refuses the rest, so a mapping file the bridge accepts is one statsd_exporter accepts too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_GO_FLAG_CHARS = set("imsU")
_MAX_REPEAT = 1000


class GoRegexError(ValueError):
    """The pattern is not valid Go RE2 syntax, or uses RE2 syntax the bridge cannot reproduce."""


def translate_go_regex(pattern: str) -> str:
    """Rewrite a Go RE2 pattern into an equivalent Python pattern, or raise GoRegexError."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    class_start = 0
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                raise GoRegexError("trailing backslash at end of expression")
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0":
                raise GoRegexError(f"invalid escape sequence \\{nxt} (RE2 has no back-references)")
            if nxt == "z":
                out.append("\\Z" if not in_class else "z")
                i += 2
                continue
            if nxt in "ZGXRKNhHVg":
                raise GoRegexError(f"invalid escape sequence \\{nxt}")
            if nxt in "pP":
                raise GoRegexError(f"Unicode class \\{nxt} is not supported by the bridge; use an explicit set")
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end == -1 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end == -1 else end + 2
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end == -1:
                    raise GoRegexError("invalid escape sequence \\x{ without closing }")
                try:
                    code = int(pattern[i + 3 : end], 16)
                except ValueError:
                    raise GoRegexError(f"invalid escape sequence {pattern[i : end + 1]}") from None
                out.append(f"\\U{code:08x}")
                i = end + 1
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end != -1:
                    name = pattern[i + 2 : end]
                    negated = name.startswith("^")
                    if negated:
                        raise GoRegexError(f"negated POSIX class [:{name}:] is not supported by the bridge")
                    if name not in _POSIX_CLASSES:
                        raise GoRegexError(f"invalid character class range [:{name}:]")
                    out.append(_POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if char == "[":
                out.append("\\[")  # a literal "[" inside a set; Python would warn about nesting
                i += 1
                continue
            if char == "]" and i > class_start:
                in_class = False
            elif char in "&~|-" and pattern.startswith(char * 2, i):
                out.append("\\" + char)  # Python reserves doubled set operators
                i += 1
                continue
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append("[")
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")  # "]" first in a set is a literal in both; be explicit
                i += 1
            class_start = i
            continue
        if char == "(" and pattern.startswith("(?", i):
            i = _translate_group_prefix(pattern, i, out)
            continue
        if char in "*+?}" and i + 1 < n and pattern[i + 1] in "+":
            raise GoRegexError(f"invalid nested repetition operator {char}{pattern[i + 1]}")
        if char == "{":
            match = re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])
            if match:
                for group in (match.group(1), match.group(3)):
                    if group and int(group) > _MAX_REPEAT:
                        raise GoRegexError(f"invalid repeat count {match.group(0)}")
        out.append(char)
        i += 1
    if in_class:
        raise GoRegexError("missing closing ]")
    return "".join(out)


def _translate_group_prefix(pattern: str, i: int, out: list[str]) -> int:
    rest = pattern[i + 2 :]
    if rest.startswith("P<"):
        out.append("(?P<")
        return i + 4
    if rest.startswith("<") and not rest.startswith(("<=", "<!")):
        out.append("(?P<")  # Go 1.22+ spelling of a named group
        return i + 3
    if rest.startswith(":"):
        out.append("(?:")
        return i + 3
    flags = re.match(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", rest)
    if flags and (flags.group(1) or flags.group(2) is not None):
        on, off = flags.group(1), flags.group(2) or ""
        for flag in on + off:
            if flag not in _GO_FLAG_CHARS:
                raise GoRegexError(f"invalid or unsupported Perl syntax (?{flags.group(0)}")
            if flag == "U":
                raise GoRegexError("the ungreedy flag (?U) is not supported by the bridge")
        if flags.group(3) == ")":
            if off:
                raise GoRegexError("turning flags off for the rest of an expression is not supported")
            # Python only accepts global flags at the very start; Go applies them from here on.
            if out:
                raise GoRegexError(
                    f"flags (?{on}) in the middle of an expression are not supported by the bridge; "
                    f"put them at the start or use (?{on}:...)"
                )
            out.append(f"(?{on})")
            return i + 2 + len(flags.group(0))
        out.append(f"(?{on}{'-' + off if off else ''}:")
        return i + 2 + len(flags.group(0))
    raise GoRegexError(
        f"invalid or unsupported Perl syntax {pattern[i : i + 4]!r}: RE2 has no look-around, "
        "atomic groups, conditionals, comments or back-references"
    )


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(translate_go_regex(pattern), re.ASCII)
    except re.error as exc:
        raise GoRegexError(str(exc)) from None


@dataclass(frozen=True)
class _Ref:
    number: int | None
    name: str | None


_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


class GoTemplate:
    """``Regexp.ExpandString`` semantics: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

    The reference name is the longest run of letters, digits and ``_`` (so ``$1x`` means group
    ``1x``, which does not exist and expands to nothing); unknown groups and groups that did not
    take part in the match expand to nothing; a malformed ``$`` is kept literally.
    """

    __slots__ = ("parts", "literal")

    def __init__(self, template: str):
        parts: list[str | _Ref] = []
        buf: list[str] = []
        i = 0
        n = len(template)
        while i < n:
            char = template[i]
            if char != "$":
                buf.append(char)
                i += 1
                continue
            if template.startswith("$$", i):
                buf.append("$")
                i += 2
                continue
            name: str | None = None
            if template.startswith("${", i):
                end = template.find("}", i + 2)
                candidate = template[i + 2 : end] if end != -1 else ""
                if end != -1 and candidate and _NAME_CHARS.fullmatch(candidate):
                    name, i = candidate, end + 1
            else:
                match = _NAME_CHARS.match(template, i + 1)
                if match:
                    name, i = match.group(0), match.end()
            if name is None:
                buf.append("$")
                i += 1
                continue
            if buf:
                parts.append("".join(buf))
                buf = []
            number: int | None = None
            if name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
                number = int(name)
            parts.append(_Ref(number, None if number is not None else name))
        if buf:
            parts.append("".join(buf))
        self.parts = tuple(parts)
        self.literal = (
            "".join(p for p in parts if isinstance(p, str)) if all(isinstance(p, str) for p in parts) else None
        )

    def expand(self, match: re.Match[str]) -> str:
        if self.literal is not None:
            return self.literal
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value: str | None = None
            if part.number is not None:
                if part.number <= match.re.groups:
                    value = match.group(part.number)
            elif part.name is not None and part.name in match.re.groupindex:
                value = match.group(part.name)
            if value:
                out.append(value)
        return "".join(out)
