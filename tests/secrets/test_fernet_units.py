"""Fernet helpers that need no database: key lists, fingerprints, errors without key material."""

from __future__ import annotations

import pytest
from airdeck.secrets import fernet
from cryptography.fernet import Fernet


def test_key_list_and_fingerprints_never_reveal_keys() -> None:
    a, b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert fernet.split_keys(f" {a} ,{b},") == [a, b]
    fp = fernet.fingerprint(a)
    assert len(fp) == 12 and fp not in a and fp != fernet.fingerprint(b)


def test_invalid_key_error_does_not_echo_the_key() -> None:
    with pytest.raises(fernet.FernetKeyError) as info:
        fernet._fernet("not-a-valid-key-but-secret-looking", "key 1")  # noqa: SLF001
    assert "not-a-valid-key" not in str(info.value) and "key 1" in str(info.value)


def test_committed_vault_policy_matches_what_bootstrap_writes() -> None:
    from pathlib import Path

    from airdeck.secrets.vault import Target, read_policy

    committed = Path(__file__).resolve().parents[2] / "security" / "vault" / "airdeck-platform-read.hcl"
    assert committed.read_text() == read_policy(Target(url="http://vault:8200")), (
        "regenerate security/vault/airdeck-platform-read.hcl from airdeck.secrets.vault.read_policy")
