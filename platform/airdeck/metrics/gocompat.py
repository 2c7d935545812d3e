"""Parse and format scalar values exactly the way statsd_exporter (Go) does.

StatsD values go through Go's ``strconv.ParseFloat``, mapping-file durations through
``time.ParseDuration`` and exposed numbers through ``strconv.FormatFloat(f, 'g', -1, 64)``.
Python's ``float()`` / ``repr()`` differ on whitespace, underscores, non-ASCII digits and
the point where exponents start, so these small functions restore Go's behaviour.
"""

from __future__ import annotations

import math
import re

_GO_FLOAT_RE = re.compile(
    r"[+-]?(?:"
    r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # decimal
    r"|inf(?:inity)?|nan"  # special values, any case
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+"  # hex float, needs p exponent
    r")",
    re.IGNORECASE | re.ASCII,
)


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``; raises ValueError where Go returns an error.

    Go accepts overflowing literals by returning ±Inf together with an error; statsd_exporter
    treats that as an error, and so do we.
    """
    if not _GO_FLOAT_RE.fullmatch(text):
        raise ValueError(f"invalid float {text!r}")
    lowered = text.lower()
    if "x" in lowered:
        try:
            value = float.fromhex(text)
        except OverflowError:  # a hex literal beyond float64: Go's ±Inf with an error, as below
            raise ValueError(f"float out of range {text!r}") from None
    else:
        value = float(text)
    if math.isinf(value) and "inf" not in lowered:
        raise ValueError(f"float out of range {text!r}")
    return value


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """``time.ParseDuration``: ``"1m30s"``, ``"250ms"``, ``"-1.5h"``, ``"0"``. Returns seconds."""
    original = text
    if not text:
        raise ValueError('invalid duration "" (write for example "30s", "5m" or "0")')
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f"invalid duration {original!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART_RE.match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError(
                f"invalid duration {original!r} (write a number followed by a unit: "
                'ns, us, ms, s, m or h, for example "1m30s")'
            )
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def format_go_float(value: float) -> str:
    """Text form of a sample value or ``le``/``quantile`` label, as client_golang writes it."""
    if value == 0:
        return "0"
    if value == 1:
        return "1"
    if value == -1:
        return "-1"
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    text = repr(value)  # shortest round-tripping digits, like Go's shortest mode
    sign = ""
    if text[0] == "-":
        sign = "-"
        text = text[1:]
    exponent = 0
    if "e" in text:
        text, exp_text = text.split("e")
        exponent = int(exp_text)
    int_part, _, frac_part = text.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + exponent  # decimal point position within `digits`
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:  # Go uses precision 6 for this decision in shortest mode
        # %e with the shortest digits: d.ddde±XX
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "+" if exp10 >= 0 else "-"
        return f"{sign}{mantissa}e{exp_sign}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
