"""Git bundle URLs that look like options or carry a credential (issue 22, finding 12).

The model refuses them without repeating them; ``git ls-remote`` gets ``--`` before the URL, so a
URL that reaches it some other way (an ``AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST`` of one's own)
is read as a repository, never as an option; every message and the status table mask what is left.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from airdeck.config import ConfigError
from airdeck.config.loader import parse_config
from airdeck.dags.diagnose import describe, redact
from airdeck.dags.probe import check
from airdeck.dags.status import configured

SECRET = "hunter2secret"


def refusal(url: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config({"dags": {"bundles": [{"name": "b", "git": {"url": url}}]}})
    text = error.value.render()
    assert "dags.bundles.0.git.url" in text, text
    return text


@pytest.mark.parametrize("url", [
    "-x@host:repo", "-oProxyCommand=touch@host:repo", "--upload-pack=x", "-u", "git@-oProxyCommand:repo",
    "-@host:r", "git@host:-r", "ssh://-oProxyCommand=x/repo", "ssh://-u@host/r", "git://-host/r",
    "https://-host/r.git", "file:///-r",
])
def test_option_like_urls_are_refused(url: str) -> None:
    assert "'-'" in refusal(url)


@pytest.mark.parametrize("url", [
    f"https://host/r.git?access_token={SECRET}", f"https://host/r.git?{SECRET}", f"http://host/r?a=1&t={SECRET}",
    f"https://host/r.git#{SECRET}", f"ssh://git@host/r.git?key={SECRET}", f"git://host/r.git#{SECRET}",
])
def test_credentials_in_a_query_or_fragment_are_refused_and_not_repeated(url: str) -> None:
    text = refusal(url)
    assert SECRET not in text and "query or fragment" in text and "connection" in text


@pytest.mark.parametrize("url", [
    f"https://{SECRET}@host/r.git", f"https://x-access-token:{SECRET}@host/r.git", f"ssh://git:{SECRET}@host/r.git",
    f"http://u:{SECRET}@host/r", f"https://[{SECRET}]/r.git", f"ssh://host:{SECRET}/r.git",
])
def test_passwords_tokens_and_bad_hosts_are_refused_and_not_repeated(url: str) -> None:
    assert SECRET not in refusal(url)


@pytest.mark.parametrize("url", ["https://git.example.com/data/a.git", "ssh://git@host:2222/r.git",
                                 "git@github.com:org/r.git", "file:///srv/git/r.git", "git://host/r-x.git",
                                 "https://host/a-b/-c.git"])
def test_ordinary_urls_are_accepted(url: str) -> None:
    cfg = parse_config({"dags": {"bundles": [{"name": "b", "git": {"url": url}}]}})
    assert cfg.dags.bundles[0].git is not None and cfg.dags.bundles[0].git.url == url
    assert configured(cfg)[0].source.startswith(redact(url))


def _repo(path: Path) -> str:
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                                "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_ls_remote_never_runs_an_upload_pack_named_in_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``--`` the URL is git's ``--upload-pack`` option and the next argument (``refs/heads/main``)
    the repository: git runs the program through the shell against it."""
    (tmp_path / "refs" / "heads").mkdir(parents=True)
    _repo(tmp_path / "refs" / "heads" / "main")
    marker = tmp_path / "ran"
    monkeypatch.chdir(tmp_path)
    found = check("b", {"repo_url": f"--upload-pack=touch {marker};", "tracking_ref": "main"})
    assert not found.ok and not marker.exists()


def test_messages_and_status_mask_query_credentials() -> None:
    for text in (redact(f"fatal: unable to access 'https://host/r.git?access_token={SECRET}&x=1/': 403"),
                 redact(f"https://host/r.git?{SECRET} and git://h/r#{SECRET}"),
                 describe("b", f"https://host/r.git?access_token={SECRET}", "main",
                          f"fatal: https://u:{SECRET}@host/r.git?t={SECRET}: 403")):
        assert SECRET not in text, text
    assert "access_token=***" in redact(f"https://host/r.git?access_token={SECRET}")
