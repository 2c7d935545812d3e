"""The tested blocks of the docs exist, parse, and are valid configuration (no platform needed)."""

from __future__ import annotations

import pytest
import yaml
from airdeck.config.loader import parse_config

from tests.docs.runner import Block, blocks, commands, sequence
from tests.harness import deep_merge

#: The sequences a user runs that the docs must keep tested (issue 16).
SEQUENCES = ("quickstart", "config-change", "tls", "vault", "fernet", "alerts")


@pytest.mark.parametrize("name", SEQUENCES)
def test_every_sequence_is_in_the_docs(name: str) -> None:
    found = sequence(name)
    assert any(b.lang == "bash" and commands(b) for b in found), name


def test_yaml_blocks_are_valid_airdeck_yaml_together() -> None:
    merged: dict = {}
    for block in blocks():
        if block.lang == "yaml":
            data = yaml.safe_load(block.text)
            assert isinstance(data, dict), block.where
            parse_config(data, block.where)
            merged = deep_merge(merged, data)
    parse_config(merged, "all tested blocks")


def test_commands_join_continued_lines_and_drop_comments() -> None:
    block = Block("x.md", 1, "bash", "s", "# a comment\nairdeck up \\\n  --detach   # trailing\n\nairdeck status\n")
    assert commands(block) == ["airdeck up    --detach   # trailing", "airdeck status"]


def test_an_unclosed_block_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "doc.md").write_text("text\n```bash test:x\nairdeck up\n")
    with pytest.raises(ValueError, match="doc.md:2"):
        blocks(tmp_path, ("doc.md",))


def test_bare_airdeck_and_venv_airdeck_are_explained() -> None:
    from tests.harness import REPO

    readme = (REPO / "README.md").read_text()
    assert "source .venv/bin/activate" in readme and "plain `airdeck`" in readme
    security = (REPO / "docs" / "security.md").read_text()
    assert "api_server.public_url" not in security  # not a key; api_server.base_url is


def test_configuration_reference_shows_nested_keys_and_readable_durations() -> None:
    from tests.harness import REPO

    text = (REPO / "docs" / "configuration.md").read_text()
    assert "timedelta(" not in text
    for key in ("`secrets.vault.url`", "`auth.ldap.url`", "`alerts.channels.<name>.connection`",
                "`alerts.delivery.poll_interval`"):
        assert key in text, key
    assert "| `supervision.start_timeout` | duration (10s–1h) | `4m` |" in text
