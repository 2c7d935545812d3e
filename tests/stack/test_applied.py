"""What `airdeck up` compares on a running platform: fingerprints of the plan (no platform needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.stack import applied
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore


def _prints(data: dict, home: AirdeckHome, store: SecretStore) -> dict[str, applied.Fingerprint]:
    cfg = parse_config(data)
    resolve = concerns.resolver(cfg, home, store, generate=True)
    return applied.fingerprints(concerns.plan(cfg, home), home, resolve)


def _changed(old: dict, new: dict) -> dict[str, list[str]]:
    return {name: why for name in new if (why := applied.differences(old[name], new[name]))}


def test_only_the_components_whose_plan_changed_differ(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    store = SecretStore(home.secrets)
    base = {"alerts": {"channels": {"a": {"type": "slack", "connection": "a"}}}}
    before = _prints(base, home, store)
    assert _changed(before, _prints(base, home, store)) == {}
    workers = _changed(before, _prints({**base, "workers": {"concurrency": 3}}, home, store))
    assert set(workers) == {"worker-1"}
    assert "[celery] worker_concurrency: 8 → 3" in workers["worker-1"]
    channel = {"alerts": {"channels": {"a": {"type": "slack", "connection": "a"},
                                       "b": {"type": "slack", "connection": "b"}}}}
    assert set(_changed(before, _prints(channel, home, store))) == {"alert-dispatcher"}
    tls = _changed(before, _prints({**base, "tls": {"enabled": True}}, home, store))
    assert {"api-server", "scheduler", "worker-1"} <= set(tls)
    assert not {"postgres", "valkey", "metrics-bridge"} & set(tls)


def test_a_rotated_secret_is_a_change_but_never_recorded(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    store = SecretStore(home.secrets)
    before = _prints({}, home, store)
    old_key = store.get("fernet_key")
    (home.secrets / "fernet_key").write_text("a-new-fernet-key-value-0123456789")
    after = _prints({}, home, store)
    changed = _changed(before, after)
    # workers hold no Fernet key: rotating it leaves them alone
    assert set(changed) == {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert changed["api-server"] == ["secret settings", "files"]
    applied.write(home, after)
    path = home.run / "applied.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for name in ("jwt_secret", "fernet_key", "api_secret_key", "database_password", "broker_password"):
        value = store.get(name)
        assert value not in text
    assert old_key not in text and "a-new-fernet-key-value" not in text
    assert applied.read(home) == after


def test_a_damaged_record_counts_as_unknown(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    (home.run / "applied.json").write_text("{not json")
    assert applied.read(home) is None
    (home.run / "applied.json").write_text(json.dumps({"version": 99, "components": {}}))
    assert applied.read(home) is None
    (home.run / "applied.json").write_text(json.dumps({"version": applied.VERSION,
                                                       "components": {"x": {"aspects": "bad"}, "y": 3}}))
    assert applied.read(home) == {}
