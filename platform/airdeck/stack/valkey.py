"""Talk to the Valkey/Redis broker: a ping for health checks, and the reachability check of an external one.

The embedded Valkey itself (binary, valkey.conf) is a plan component: :mod:`airdeck.plan.servers`."""

from __future__ import annotations

import redis

from airdeck.config.masking import mask, url_password
from airdeck.stack.errors import ExternalServiceError


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
            f"cannot reach the broker at {shown} (broker.url): {mask(str(exc), [url_password(url)])}. "
            "Check the host, port, password and that the server is running."
        ) from None
