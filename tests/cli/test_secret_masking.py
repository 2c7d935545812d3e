"""A database or broker password never reaches what airdeck prints: ``config render``, ``config validate``
and the errors of a failed ``up`` (issue 13, finding 4), whatever characters the password holds."""

from __future__ import annotations

import contextlib
import io
import re
import string
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from airdeck.cli.main import main
from airdeck.config.masking import mask, mask_url, normalise_url, split_userinfo
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.harness import free_port, write_config

SERVICES = ("api-server", "scheduler", "worker-1", "airflow-cli")
HOSTILE = ["pa#ss-w0rd", "pa?ss-w0rd", "pa/ss-w0rd", "pa@ss-w0rd", "pa%ZZss-w0rd", "p:a@b/c?d#e%ZZ-x",
           "sp ace-w0rd", "%41%42-literal"]


def _closed_port() -> int:
    return free_port()  # reserved for this process: nothing listens there


def _airdeck(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def _config(folder: Path, database_url: str | None = None, broker_url: str | None = None) -> Path:
    extra: dict = {}
    if database_url is not None:
        extra["database"] = {"url": database_url}
    if broker_url is not None:
        extra["broker"] = {"url": broker_url}
    return write_config(folder, extra)


def _outputs(folder: Path, config: Path, with_up: bool) -> list[tuple[str, int, str]]:
    home = str(folder / "home")
    ran = [("validate", *_airdeck("--config", str(config), "--home", home, "config", "validate"))]
    for service in SERVICES:
        ran.append((f"render {service}", *_airdeck("--config", str(config), "--home", home, "config", "render",
                                                   "--service", service)))
    if with_up:
        ran.append(("up", *_airdeck("--config", str(config), "--home", home, "up", "--detach")))
    return ran


def _assert_hidden(password: str, ran: list[tuple[str, int, str]]) -> None:
    for name, _code, text in ran:
        for form in {password, quote(password, safe=""), normalise_url(f"x://u:{password}@h").split(":", 2)[2][:-2]}:
            assert form not in text, f"{name} shows the password ({form!r}):\n{text}"


@pytest.mark.parametrize("password", HOSTILE)
def test_database_password_is_masked_everywhere(tmp_path: Path, password: str) -> None:
    url = f"postgresql+psycopg://airflow:{password}@127.0.0.1:{_closed_port()}/airflow"
    ran = _outputs(tmp_path, _config(tmp_path, database_url=url), with_up=True)
    _assert_hidden(password, ran)
    by_name = {name: (code, text) for name, code, text in ran}
    assert by_name["validate"][0] == 0
    assert "sql_alchemy_conn = postgresql+psycopg://airflow:***@127.0.0.1:" in by_name["render scheduler"][1]
    code, text = by_name["up"]
    assert code != 0 and "cannot reach the database at postgresql+psycopg://airflow:***@127.0.0.1" in text, text
    assert "percent-encoded" not in text  # libpq parsed the URL: its error is about the server, not the password


@pytest.mark.parametrize("password", HOSTILE)
def test_broker_password_is_masked_everywhere(tmp_path: Path, password: str) -> None:
    url = f"redis://:{password}@127.0.0.1:{_closed_port()}/0"
    ran = _outputs(tmp_path, _config(tmp_path, broker_url=url), with_up=True)
    _assert_hidden(password, ran)
    code, text = ran[-1][1:]
    assert code != 0 and "cannot reach the broker at redis://:***@127.0.0.1" in text, text


# ---------------------------------------------------------------------------------------------- properties
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "#?/@%:!$&'()*+,;=[]~ -_.é€"
passwords = st.text(alphabet=PASSWORD_ALPHABET, min_size=8, max_size=24).filter(
    lambda pw: any(c in pw for c in "#?/@%"))


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(password=passwords, encoded=st.booleans())
def test_generated_passwords_never_reach_render_or_validate(password: str, encoded: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = quote(password, safe="") if encoded else password
        url = f"postgresql://airflow:{written}@127.0.0.1:{_closed_port()}/airflow"
        ran = _outputs(folder, _config(folder, database_url=url), with_up=False)
        assume(all(password not in text for text in _baseline()))
        _assert_hidden(password, ran)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(password=passwords)
def test_generated_passwords_never_reach_the_errors_of_up(password: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"postgresql://airflow:{password}@127.0.0.1:{_closed_port()}/airflow"
        (_name, code, text), = [r for r in _outputs(folder, _config(folder, database_url=url), with_up=True)
                                if r[0] == "up"]
        assume(all(password not in text for text in _baseline()))
        assert code != 0
        _assert_hidden(password, [("up", code, text)])


_BASELINE: list[str] = []


def _baseline() -> list[str]:
    """What the commands print for a harmless password: a generated one found in it proves nothing."""
    if not _BASELINE:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = f"postgresql://airflow:harmless@127.0.0.1:{_closed_port()}/airflow"
            _BASELINE.extend(text for _n, _c, text in _outputs(folder, _config(folder, database_url=url), True))
    return _BASELINE


@settings(max_examples=200, deadline=None, derandomize=True)
@given(user=st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), password=passwords,
       tail=st.sampled_from(["127.0.0.1:5432/airflow", "db.example.org/airflow?sslmode=require", "[::1]:6379/0"]))
def test_url_masking_and_normalising(user: str, password: str, tail: str) -> None:
    url = f"postgresql://{user}:{password}@{tail}"
    assert split_userinfo(url) == ("postgresql://", user, password, tail)
    assert mask_url(url) == f"postgresql://{user}:***@{tail}"
    normal = normalise_url(url)
    assert normalise_url(normal) == normal
    assert split_userinfo(normal)[3] == tail  # type: ignore[index]
    assert password not in mask(f"failed: {url} and {normal}", [password])
    # Every reserved character of the password is encoded: a URL parser sees the same host and port.
    parts = urlsplit(normal)
    assert parts.hostname in ("127.0.0.1", "db.example.org", "::1")
    assert parts.password is not None and unquote(parts.password) == _decoded(password)


def _decoded(password: str) -> str:
    """What a driver reads: valid %XX escapes written in the URL stand for their character, a lone % for itself."""
    return unquote(re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", password))


def test_query_password_is_masked() -> None:
    assert mask_url("postgresql://db/airflow?user=a&password=s3cret&sslmode=require") == \
        "postgresql://db/airflow?user=a&password=***&sslmode=require"
    assert "s3cret" not in mask("libpq: invalid URI query parameter password=s3cret")
