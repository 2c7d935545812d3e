"""`airdeck alerts test`: send a test message through chosen channels, the way the dispatcher would.

Connections resolve the Airflow way (environment, secrets backend, metadata database), so the
sending runs in a child process (``python -m airdeck.alerts.testsend``) given the platform's Airflow
CLI environment: the calling process's environment is never changed. The child reads the request as
JSON on standard input and writes one result line per channel.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airdeck.alerts.channels import DeliveryError, Sender
from airdeck.alerts.messages import render_test
from airdeck.config.alerts import ChannelSettings
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError

#: Prefix of the child's result lines (Airflow may print its own lines on standard output).
RESULT_MARKER = "AIRDECK-TEST-RESULT "
#: Seconds the child may take beyond the channels' own delivery timeouts (importing Airflow, providers).
STARTUP_SECONDS = 120.0


class NoSuchChannel(AirdeckError):
    """The channel asked for is not in alerts.channels."""

    exit_code = 2


class SendingFailed(AirdeckError):
    """The child process that sends the test messages could not do its work."""


@dataclass(frozen=True)
class Outcome:
    """What became of the test message to one channel (``error`` is None when it was delivered)."""

    channel: str
    type: str
    connection: str
    error: str | None


def matching_channels(cfg: AirdeckConfig, wanted: str) -> list[str]:
    """The channel named ``wanted``, else every channel of that type (``slack``, ``email``)."""
    channels = cfg.alerts.channels
    if wanted in channels:
        return [wanted]
    names = [name for name, channel in channels.items() if channel.type == wanted]
    if not names:
        defined = ", ".join(f"{n} ({c.type})" for n, c in channels.items()) or "none"
        raise NoSuchChannel(f"no alert channel matches {wanted!r} (alerts.channels: {defined})")
    return names


def send_test(cfg: AirdeckConfig, names: Sequence[str], env: Mapping[str, str], public_url: str) -> list[Outcome]:
    """Send a test message to each named channel from a child process with environment ``env``."""
    timeout = cfg.alerts.delivery.timeout.total_seconds()
    request = {"public_url": public_url, "timeout": timeout,
               "channels": {name: cfg.alerts.channels[name].model_dump(mode="json") for name in names}}
    try:
        child = subprocess.run([sys.executable, "-m", __name__], input=json.dumps(request), env=dict(env),
                               capture_output=True, text=True, check=False,
                               timeout=STARTUP_SECONDS + timeout * len(names))
    except subprocess.TimeoutExpired:
        raise SendingFailed(f"sending test messages to {', '.join(names)} took longer than "
                            f"{STARTUP_SECONDS + timeout * len(names):.0f}s; check the channels' connections "
                            "and alerts.delivery.timeout") from None
    sent = {}
    for line in child.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            item = json.loads(line[len(RESULT_MARKER):])
            sent[item["channel"]] = item.get("error")
    missing = [name for name in names if name not in sent]
    if missing:
        last = (child.stderr.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
        raise SendingFailed(f"no result for channel(s) {', '.join(missing)}: the sending process stopped "
                            f"({last}); run `airdeck airflow connections list` to check the platform's Airflow "
                            "environment")
    return [Outcome(name, cfg.alerts.channels[name].type, cfg.alerts.channels[name].connection, sent[name])
            for name in names]


def _child() -> int:
    """In the child: send to each channel of the request on standard input; one result line each.
    (Sending imports Airflow's provider hooks, which read the environment the parent gave.)"""
    request = json.load(sys.stdin)
    for name, data in request["channels"].items():
        error = None
        try:
            Sender(name, ChannelSettings.model_validate(data), request["timeout"]).send(
                render_test(name, request["public_url"]))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 (a connection that cannot be used fails its channel only)
            error = f"{type(exc).__name__}: {exc}"
        sys.stdout.write(RESULT_MARKER + json.dumps({"channel": name, "error": error}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
