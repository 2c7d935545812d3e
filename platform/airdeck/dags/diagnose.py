"""Turn what git said into one line for people: which bundle, what went wrong, what to do; never a secret.

git's own messages can carry a URL with ``user:token@`` or ``?access_token=…`` (a misconfigured
connection), the helper's temporary path, or the token itself echoed by a server. :func:`redact`
removes all of them before a message reaches a log, the status table or the console.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from airdeck.config.masking import mask

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
#: The values of a URL's query and its fragment (``?access_token=…``, ``#token``), where some hosts take a token.
_URL_QUERY = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#]*)(?P<tail>[?#][^\s]*)")
_HEADER_AUTH = re.compile(r"(?i)(authorization:\s*(basic|bearer|token)\s+)\S+")
LIMIT = 600


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without credentials in URLs, authorization headers or any of ``secrets``."""
    out = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    out = _URL_QUERY.sub(lambda m: m["head"] + _masked_query(m["tail"]), out)
    out = _HEADER_AUTH.sub(r"\1***", out)
    return mask(out, secrets)


def _masked_query(tail: str) -> str:
    """``?a=1&b#f`` → ``?a=***&***#***``: the names of values stay (they say what was there), the rest goes."""
    query, hash_mark, _fragment = tail.partition("#")
    if query.startswith("?"):
        pairs = [f"{name}=***" if sep else "***" for name, sep, _ in (p.partition("=") for p in query[1:].split("&"))]
        query = "?" + "&".join(pairs)
    return query + ("#***" if hash_mark else "")


def _git_output(error: BaseException) -> str:
    """The most telling text of an exception chain (git's stderr when there is one)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        stderr = getattr(current, "stderr", None)
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        if stderr:
            parts.append(str(stderr))
        else:
            parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def classify(text: str, branch: str) -> tuple[str, str]:
    """(problem, what to do) for git output ``text``."""
    low = text.lower()
    if any(s in low for s in ("authentication failed", "could not read username", "could not read password",
                              "http basic: access denied", "returned error: 401", "returned error: 403",
                              "permission denied (publickey", "invalid username or password")):
        return ("bad credentials", "check the login and password/token of the bundle's git connection")
    if any(s in low for s in ("repository not found", "returned error: 404", "does not appear to be a git repository",
                              "not found")) and "remote branch" not in low and "pathspec" not in low:
        return ("repository not found", "check dags.bundles[].git.url")
    if any(s in low for s in ("couldn't find remote ref", "remote branch", "pathspec", "unknown revision",
                              "did not match any", "no such ref", "not a valid ref", "branch not found",
                              "failed to resolve", "valid revision")):
        return (f"branch {branch!r} not found", "check dags.bundles[].git.branch (the branch must exist)")
    if any(s in low for s in ("could not resolve host", "connection refused", "failed to connect", "timed out",
                              "couldn't connect", "network is unreachable", "no route to host", "unable to access",
                              "connection reset", "empty reply")):
        return ("repository unreachable", "check the URL and the network; the last fetched version keeps serving")
    if "conn_id" in low and "isn't defined" in low:
        return ("connection missing", "create the git connection (environment AIRFLOW_CONN_<ID>, Vault or "
                                      "`airdeck airflow connections add`)")
    return ("git failed", "see the dag-processor log (airdeck logs dag-processor)")


def describe(bundle: str, url: str, branch: str, error: BaseException | str,
             secrets: Iterable[str | None] = ()) -> str:
    """``bundle NAME: PROBLEM (URL, branch B): DETAIL — WHAT TO DO``, with every secret removed."""
    secrets = list(secrets)
    raw = error if isinstance(error, str) else _git_output(error)
    problem, advice = classify(raw, branch)
    lines = [line.strip() for line in redact(raw, secrets).splitlines() if line.strip()]
    # git's "fatal:"/"error:" lines say the most; drop the echo of the command line
    telling = [line for line in lines if line.lower().startswith(("fatal:", "error:", "remote:"))] or lines
    detail = "; ".join(dict.fromkeys(telling))[:300]
    message = f"bundle {bundle}: {problem} ({redact(url, secrets)}, branch {branch})"
    if detail:
        message += f": {detail}"
    return redact(f"{message} — {advice}", secrets)[:LIMIT]
