"""Reach each git bundle's repository and branch the way the dag-processor will: ``git ls-remote``
with the bundle's Airflow connection.

Run in a child process with a component's Airflow configuration (``python -m airdeck.dags.probe``), so
the connection resolves exactly as in Airflow (environment, secrets backend such as Vault, metadata
database). The child prints one JSON document; credentials reach git only through the git provider's
credential helper (environment), never its command line, and every message is redacted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any

from airdeck.dags.diagnose import describe, redact
from airdeck.state.childenv import AIRFLOW_PREFIXES, GIT_NAMES, child_env

GIT_BUNDLE = "airdeck.dags.bundle.GitBundle"
TIMEOUT = 30


@dataclass(frozen=True)
class ProbeResult:
    bundle: str
    ok: bool
    detail: str
    commit: str | None = None


def check(name: str, kwargs: dict[str, Any]) -> ProbeResult:
    """One bundle: its branch's commit, or the problem in one line."""
    url = str(kwargs.get("repo_url") or "")
    branch = str(kwargs.get("tracking_ref") or "main")
    conn_id = kwargs.get("git_conn_id")
    hook: Any = None
    secrets: list[str | None] = []
    if conn_id:
        from airflow.providers.git.hooks.git import GitHook

        try:
            hook = GitHook(git_conn_id=conn_id, repo_url=url)
        except Exception as exc:  # noqa: BLE001 - a missing or unreadable connection is the finding
            return ProbeResult(name, False, describe(name, url, branch, f"The conn_id `{conn_id}` isn't defined "
                                                     f"({type(exc).__name__})"))
        url = str(hook.repo_url or url)
        secrets = [getattr(hook, "auth_token", None), getattr(hook, "private_key_passphrase", None)]
    with hook.configure_hook_env() if hook is not None else nullcontext():
        env = child_env(GIT_NAMES, extra={**(hook.env if hook is not None else {}), "GIT_TERMINAL_PROMPT": "0"})
        try:
            # `--`: whatever the URL holds, git reads it as the repository, never as an option
            done = subprocess.run(["git", "ls-remote", "--exit-code", "--", url, f"refs/heads/{branch}",
                                   f"refs/tags/{branch}"], env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return ProbeResult(name, False, describe(name, url, branch, f"fatal: timed out after {TIMEOUT}s",
                                                     secrets))
    if done.returncode == 0 and done.stdout.strip():
        commit = done.stdout.split()[0]
        return ProbeResult(name, True, f"{redact(url, secrets)} branch {branch} is at {commit[:12]}", commit)
    if done.returncode == 2:
        return ProbeResult(name, False, describe(name, url, branch, f"fatal: couldn't find remote ref {branch}",
                                                 secrets))
    return ProbeResult(name, False, describe(name, url, branch, done.stderr or f"git exited {done.returncode}",
                                             secrets))


def main() -> int:
    from airflow.configuration import conf

    raw = conf.getjson("dag_processor", "dag_bundle_config_list", fallback=None)
    entries: list[Any] = raw if isinstance(raw, list) else []
    results = [check(str(e["name"]), dict(e.get("kwargs") or {}))
               for e in entries if isinstance(e, dict) and e.get("classpath") == GIT_BUNDLE]
    sys.stdout.write(json.dumps([asdict(r) for r in results]) + "\n")
    return 0


def run_probe(overlay: dict[str, str], timeout: float = 300) -> list[ProbeResult]:
    """Run :func:`main` in a child with ``overlay`` (a component's environment) over this one's."""
    env = child_env(GIT_NAMES, AIRFLOW_PREFIXES, {**overlay, "GIT_TERMINAL_PROMPT": "0"})
    try:
        done = subprocess.run([sys.executable, "-m", "airdeck.dags.probe"], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [ProbeResult("*", False, f"the repository check did not finish within {int(timeout)}s")]
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-2:])
        return [ProbeResult("*", False, f"the repository check failed (exit {done.returncode}): {redact(tail)}")]
    return [ProbeResult(**item) for item in json.loads(lines[-1])]


if __name__ == "__main__":
    raise SystemExit(main())
