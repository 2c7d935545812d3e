"""The one way a secret is kept out of a message: URLs shown with their password masked, known secret values
(and their percent-encoded forms) replaced wherever they appear.

Every place a URL or a secret may reach text people see (``airdeck config render``, errors of ``airdeck up``,
a driver's error echoed in them, logs airdeck writes) goes through :func:`mask` or :func:`mask_url`.

A URL's credentials are what lies between ``scheme://`` and the **last** ``@`` of the URL, so a password
that holds ``#``, ``?``, ``/``, ``@`` or ``%`` unencoded is still recognised as the password (the standard
URL parser would take ``#`` for the start of a fragment and show the rest). :func:`normalise_url` writes
those characters percent-encoded, so the database and broker drivers read the same password airdeck
masks, and libpq never has to echo an unparseable password back in its error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)")
#: In free text: scheme://user:password@ up to the last @ before white space (greedy), or user-less forms.
_TEXT_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s]*)@")
#: Passwords given as query parameters (libpq's ``?password=``, ``sslpassword=``).
_QUERY_PASSWORD = re.compile(r"(?i)(?P<key>(?<![A-Za-z0-9_])(?:password|sslpassword|pass|pwd)=)[^&\s]*")
_VALID_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def split_userinfo(url: str) -> tuple[str, str, str | None, str] | None:
    """``(scheme://, user, password or None, rest after the @)``, or None when the URL has no credentials.

    The user ends at the first ``:`` of the credentials, the password runs to the last ``@``."""
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme = match.group("scheme")
    rest = url[len(scheme):]
    at = rest.rfind("@")
    if at < 0:
        return None
    userinfo, after = rest[:at], rest[at + 1:]
    user, colon, password = userinfo.partition(":")
    return scheme, user, (password if colon else None), after


def _encode(part: str) -> str:
    """``part`` percent-encoded for a URL's credentials; ``%XX`` escapes already there are kept."""
    pieces = _VALID_ESCAPE.split(part)
    escapes = _VALID_ESCAPE.findall(part)
    out = quote(pieces[0], safe="")
    for escape, piece in zip(escapes, pieces[1:], strict=True):
        out += escape + quote(piece, safe="")
    return out


def normalise_url(url: str) -> str:
    """The URL with its user and password percent-encoded (``#`` ``?`` ``/`` ``@`` ``:`` and a ``%`` that
    starts no escape), so every parser reads the same credentials. Idempotent."""
    parts = split_userinfo(url)
    if parts is None:
        return url
    scheme, user, password, after = parts
    userinfo = _encode(user) + ("" if password is None else ":" + _encode(password))
    return f"{scheme}{userinfo}@{after}"


def mask_url(url: str) -> str:
    """The URL with its password (and any ``password=`` query parameter) replaced by ``***``."""
    parts = split_userinfo(url)
    if parts is not None:
        scheme, user, password, after = parts
        if password is not None:
            url = f"{scheme}{user}:{MASK}@{after}"
    return _QUERY_PASSWORD.sub(lambda m: m.group("key") + MASK, url)


def url_password(url: str) -> str | None:
    parts = split_userinfo(url)
    return None if parts is None else parts[2]


def variants(secret: str) -> set[str]:
    """The forms a secret may take in text: as given, percent-decoded, percent-encoded (and both)."""
    forms = {secret, unquote(secret), quote(secret, safe=""), _encode(secret), quote(unquote(secret), safe="")}
    return {form for form in forms if form}


def mask(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the credentials of every URL in it masked and every form of each secret replaced."""
    known: set[str] = set()
    for secret in secrets:
        if secret:
            known |= variants(secret)
    # Longest first, so a secret that contains another is replaced whole.
    for value in sorted(known, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, MASK)
    text = _TEXT_CREDENTIALS.sub(lambda m: _mask_userinfo(m.group("scheme"), m.group("userinfo")), text)
    return _QUERY_PASSWORD.sub(lambda m: m.group("key") + MASK, text)


def _mask_userinfo(scheme: str, userinfo: str) -> str:
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return f"{scheme}{userinfo}@" if "/" not in userinfo else f"{scheme}{MASK}@"
    if "/" in user:  # not a user name: the "@" belongs to something later in the text
        return f"{scheme}{MASK}@"
    return f"{scheme}{user}:{MASK}@"
