"""`airdeck import airflow2` without servers: source versions from Airflow's own migration files, URLs and
key files, and that no password reaches a message or a child's command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from airdeck.ops.airflow2 import (
    Airflow2ImportError,
    Database,
    SourceVersionError,
    airflow_version_of,
    known_revisions,
    read_keys,
)
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_revisions_come_from_airflows_migration_files() -> None:
    known = known_revisions()
    assert len(known) > 100
    assert known["405de8318b3a"] == "2.7.0" and known["5f2621c13b39"] == "2.10.3"
    assert list(known)[0] == "4bc4d934e2bc"  # the chain's first file: 2.6.2's squashed migrations


@pytest.mark.parametrize(("revision", "version"), [
    ("405de8318b3a", "2.7.0"),               # 2.7.0's head
    ("1949afb29106", "2.9.0"),
    ("5f2621c13b39", "2.10.3 to 2.11"),      # the last 2.x revision: 2.11 added none
])
def test_supported_source_revisions(revision: str, version: str) -> None:
    assert airflow_version_of(revision) == version


@pytest.mark.parametrize(("revision", "message"), [
    ("4bc4d934e2bc", "from Airflow 2.6.2"),
    ("29ce7909c52b", "already an Airflow 3.0.0 database"),
    ("d2f4e1b3c5a7", "already an Airflow 3.3.0 database"),
    ("0123456789ab", "does not know"),
])
def test_unsupported_source_revisions(revision: str, message: str) -> None:
    with pytest.raises(SourceVersionError, match=message) as raised:
        airflow_version_of(revision)
    assert "2.7 to 2.11" in str(raised.value)


def test_url_forms_and_password_handling() -> None:
    url = "postgresql+psycopg2://etl:p%40ss@db.example.com:5433/airflow?sslmode=require"
    db = Database.from_url(url, "--database-url")
    assert db.params == {"user": "etl", "password": "p@ss", "host": "db.example.com", "port": "5433",
                         "dbname": "airflow", "sslmode": "require"}
    assert db.shown == "postgresql+psycopg2://etl:***@db.example.com:5433/airflow?sslmode=require"
    assert "p@ss" not in db.conninfo(with_password=False) and db.env()["PGPASSWORD"] == "p@ss"
    assert Database.from_url("postgres://etl@h/a", "x").params == {"user": "etl", "host": "h", "dbname": "a"}


@pytest.mark.parametrize("url", ["mysql://u:secretpw@h/db", "sqlite:////tmp/a.db", "secretpw", "",
                                 "postgresql://u:secretpw@h:notaport/db"])
def test_bad_urls_are_refused_without_their_password(url: str) -> None:
    with pytest.raises(Airflow2ImportError) as raised:
        Database.from_url(url, "--database-url")
    assert "secretpw" not in str(raised.value)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=6, max_size=30))
def test_any_password_is_masked_and_kept_off_the_command_line(password: str) -> None:
    from urllib.parse import quote

    db = Database.from_url(f"postgresql://u:{quote(password, safe='')}@h:5432/d", "x")
    assert db.params["password"] == password
    assert "***" in db.shown and quote(password, safe="") not in db.shown
    assert db.env()["PGPASSWORD"] == password and "password" not in db.conninfo(with_password=False)


def test_key_files(tmp_path: Path) -> None:
    one, two = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = tmp_path / "k"
    path.write_text(f" {one} , {two}\n")
    assert len(read_keys(path)) == 2
    for text, message in (("", "is empty"), ("short", "key 1 is not a Fernet key"),
                          (f"{one},zzzz", "key 2 is not a Fernet key")):
        path.write_text(text)
        with pytest.raises(Airflow2ImportError, match=message) as raised:
            read_keys(path)
        assert "zzzz" not in str(raised.value) and "short" not in str(raised.value)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(Airflow2ImportError, match="cannot read the Fernet key file"):
        read_keys(path)
    with pytest.raises(Airflow2ImportError, match="does not exist"):
        read_keys(tmp_path / "missing")
