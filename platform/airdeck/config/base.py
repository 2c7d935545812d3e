"""The shared vocabulary of airdeck.yaml: the ``Section`` base class and the value types every section uses.

Each type is defined here once and only here: ``Port``, ``Duration`` (with ``Between`` bounds),
``HttpUrl``, ``EmailAddress``, ``HostPort``, and the rule that credentials are never written inline.
Durations are read as ``90s``, ``5m``, ``1h30m``, ``2d``, ``250ms``, ISO 8601 (``PT15S``) or a bare
number of seconds, held as :class:`datetime.timedelta`, and written back in the short form (``5m``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    SecretStr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


class Section(BaseModel):
    """Base of every section of airdeck.yaml: unknown keys are errors, assignments are validated too.

    Every text value of every field (strings, secrets, paths, and the keys and items of mappings and
    lists) passes :func:`check_text` here, once, so a field added later gets the same protection: the
    values reach generated files (airflow.cfg, supervisord.conf, webserver_config.py, Prometheus's
    configuration) and must not be able to add a line, a section or a program to them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text_only(cls, value: Any) -> Any:
        _walk_text(value, "")
        return value


# --- text that reaches generated files ------------------------------------------------------------

#: C0 and C1 control characters (newline, carriage return, NUL, tab, escape, ...), DEL, the Unicode
#: line and paragraph separators, and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: What Airflow's configuration parser expands in every value it reads from airflow.cfg
#: (``os.path.expandvars`` then ``os.path.expanduser``, repeated): ``$NAME``, ``${NAME}`` and a leading ``~``.
_EXPANDED = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)

_CHAR_NAMES = {"\n": "a line feed (newline)", "\r": "a carriage return", "\x00": "a NUL byte", "\t": "a tab"}


def check_text(value: str, *, secret: bool = False) -> None:
    """Refuse text that a generated file could not hold as it is: control characters, lone surrogates,
    ``$NAME``/``${NAME}``/leading ``~`` (Airflow would expand them), and surrounding spaces (its
    configuration parser strips them). Raises ValueError saying what to write instead; a ``secret``
    value is never quoted in the message."""
    bad = _CONTROL.search(value)
    if bad is not None:
        char = bad.group()
        name = _CHAR_NAMES.get(char, "a control character" if not 0xD800 <= ord(char) <= 0xDFFF
                               else "a lone surrogate (not valid Unicode text)")
        raise ValueError(f"contains {name} (U+{ord(char):04X}) at position {bad.start() + 1}; "
                         "values are one line of printable text")
    expanded = _EXPANDED.search(value)
    if expanded is not None:
        what = "a $NAME reference" if secret else f"{expanded.group()!r}"
        raise ValueError(f"contains {what}, which Airflow would replace by an environment variable when it "
                         "reads its configuration; airdeck.yaml does not expand variables: write the value "
                         "itself (in a URL, write $ as %24)")
    if value.startswith("~"):
        raise ValueError("starts with '~', which Airflow would expand to a home folder when it reads its "
                         "configuration; write the full path")
    if value != value.strip():
        raise ValueError("has spaces at the start or end; remove them (configuration files drop them)")


def _walk_text(value: Any, where: str) -> None:
    """Apply :func:`check_text` to every text inside ``value``; nested sections check themselves."""
    try:
        if isinstance(value, str):
            check_text(value)
        elif isinstance(value, SecretStr):
            check_text(value.get_secret_value(), secret=True)
        elif isinstance(value, PurePath):
            check_text(str(value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                _walk_text(key, f"{where}key {key!r}: ")
                _walk_text(item, f"{where}[{key!r}]: " if isinstance(key, str) else where)
        elif isinstance(value, list | tuple | set | frozenset):
            for index, item in enumerate(value):
                _walk_text(item, f"{where}item {index + 1}: ")
    except _WalkError:
        raise
    except ValueError as exc:
        raise _WalkError(f"{where}{exc}") from None


class _WalkError(ValueError):
    """A :func:`check_text` failure with the place inside a mapping or list already prefixed."""


Port = Annotated[int, Field(ge=1, le=65535)]

# --- durations --------------------------------------------------------------------------------------

#: The short human form: units from days down to milliseconds, largest first, each at most once.
DURATION_PATTERN = r"^(\d+d)?(\d+h)?(\d+m)?(\d+(\.\d+)?s)?(\d+ms)?$"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")
_ACCEPTED = "write e.g. 30s, 5m, 1h30m, 2d (units d, h, m, s, ms) or a number of seconds"
_UNITS = (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000))


def parse_duration(value: object) -> timedelta:
    """``"1h30m"`` → timedelta. Also ISO 8601 (``PT15S``) and a bare number of seconds.

    Raises ValueError naming the accepted forms; negative durations are refused."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration; {_ACCEPTED}")
    elif isinstance(value, int | float):
        duration = timedelta(seconds=value)
    else:
        duration = _parse_text(value)
    if duration < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return duration


def _parse_text(value: str) -> timedelta:
    text = value.strip().lower().replace(" ", "")
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    if text.startswith("p"):  # ISO 8601, as pydantic and other tools write durations to JSON
        try:
            return TypeAdapter(timedelta).validate_python(text.upper())
        except ValidationError:
            raise ValueError(f"{value!r} is not a duration; {_ACCEPTED}") from None
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration; {_ACCEPTED}")
    days, hours, minutes, seconds, millis = match.groups()
    return timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
                     seconds=float(seconds or 0), milliseconds=int(millis or 0))


def format_duration(duration: timedelta) -> str:
    """The short human form: ``5m``, ``1h30m``, ``2d``, ``1.5s``, ``250ms``; ``0s`` for nothing."""
    micros = _micros(duration)
    if micros == 0:
        return "0s"
    if micros < 1_000_000 and micros % 1000 == 0:
        return f"{micros // 1000}ms"
    head = _units(micros - micros % 60_000_000, stop="m")
    rest = micros % 60_000_000
    if not rest:
        return head
    seconds = f"{rest / 1_000_000:.6f}".rstrip("0").rstrip(".")
    return f"{head}{seconds}s"


def prometheus_duration(duration: timedelta) -> str:
    """Prometheus's own duration string (``15s``, ``1m30s``, ``500ms``) for its configuration files.

    Prometheus counts in whole milliseconds: a finer remainder is rounded to the nearest one (half up)."""
    millis = (_micros(duration) + 500) // 1000
    return _units(millis * 1000) if millis else "0s"


def _micros(duration: timedelta) -> int:
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def _units(micros: int, stop: str = "ms") -> str:
    out = []
    for unit, size in _UNITS:
        count, micros = divmod(micros, size)
        if count:
            out.append(f"{count}{unit}")
        if unit == stop:
            break
    return "".join(out)


_DURATION_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN, "minLength": 1},
        {"type": "string", "pattern": r"^P", "description": "ISO 8601, e.g. PT15S"},
        {"type": "number", "minimum": 0, "description": "seconds"},
    ],
}

#: A length of time: ``90s``, ``5m``, ``1h30m``, ``2d``, ISO 8601 or a bare number of seconds.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_JSON_SCHEMA),
]


@dataclass(frozen=True)
class Between:
    """Bounds of a :data:`Duration` field, written in the short form: ``Annotated[Duration, Between("1s", "5m")]``."""

    low: str | None = None
    high: str | None = None

    def _bounds(self) -> tuple[timedelta | None, timedelta | None]:
        return (parse_duration(self.low) if self.low else None, parse_duration(self.high) if self.high else None)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = dict(handler(schema))
        low, high = self._bounds()
        out["anyOf"] = [dict(branch) for branch in out.get("anyOf", [])]
        for branch in out["anyOf"]:
            if branch.get("type") == "number":
                if low is not None:
                    branch["minimum"] = _number(low.total_seconds())
                if high is not None:
                    branch["maximum"] = _number(high.total_seconds())
        return out

    def _check(self, value: timedelta) -> timedelta:
        low, high = self._bounds()
        if low is not None and value < low:
            raise ValueError(f"must be at least {self.low}")
        if high is not None and value > high:
            raise ValueError(f"must be at most {self.high}")
        return value


def _whole_seconds(value: timedelta) -> timedelta:
    if value.microseconds:
        raise ValueError("must be a whole number of seconds (Airflow reads this setting as an integer)")
    return value


#: Metadata for a :data:`Duration` that an integer-seconds setting receives: ``Annotated[Duration, WholeSeconds]``.
WholeSeconds = AfterValidator(_whole_seconds)


def _number(seconds: float) -> int | float:
    return int(seconds) if seconds.is_integer() else seconds


# --- other shared values ----------------------------------------------------------------------------


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or value.split("://", 1)[1] in ("", "/"):
        raise ValueError("must be an absolute http:// or https:// URL, e.g. https://host.example.com:8443")
    if any(c.isspace() or c in "\"'<>\\`{}|^" for c in value):
        raise ValueError("a URL holds no spaces, quotes, <>, \\, `, {}, | or ^ (write them percent-encoded, "
                         "e.g. %20 for a space)")
    return value.rstrip("/")


#: An absolute http(s) URL; a trailing slash is dropped.
HttpUrl = Annotated[
    str, AfterValidator(_http_url), WithJsonSchema({"type": "string", "pattern": "^https?://[^/]"}),
]

#: An address as SMTP servers and Airflow's users table take it: ``name@host`` (RFC 5322's dot-atom local
#: part, a host name of letters, digits and hyphens); no display name, no brackets, no spaces.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]+@{_LABEL}(?:\.{_LABEL})*$"


def _email(value: str) -> str:
    if not re.match(EMAIL_PATTERN, value):
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return value


EmailAddress = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "pattern": EMAIL_PATTERN})]

HOST_PORT_PATTERN = r"^[A-Za-z0-9_.-]+:\d{1,5}$"


def _host_port(value: str) -> str:
    if not re.match(HOST_PORT_PATTERN, value):
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9093)")
    return value


HostPort = Annotated[str, AfterValidator(_host_port), WithJsonSchema({"type": "string", "pattern": HOST_PORT_PATTERN})]


def no_inline_credentials(keys: Mapping[str, str]) -> Callable[[Any], Any]:
    """A ``model_validator(mode="before")`` body refusing credential keys written inline.

    ``keys`` maps each refused key to the key that reads the credential from elsewhere (a file, an
    environment variable)."""

    def check(data: Any) -> Any:
        if isinstance(data, dict):
            for key, instead in keys.items():
                if key in data:
                    raise ValueError(
                        f"'{key}' is a credential and is not accepted inline in airdeck.yaml; "
                        f"keep it in a file readable only by you (chmod 600) or an environment variable "
                        f"and set {instead} instead"
                    )
        return data

    return check
