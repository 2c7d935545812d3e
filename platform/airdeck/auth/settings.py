"""Airflow settings the auth concern adds to every Airflow component's airflow.cfg."""

from __future__ import annotations

from airdeck.config.model import AirdeckConfig


def auth_airflow_settings(cfg: AirdeckConfig) -> dict[str, dict[str, str]]:
    """Sign-in throttling, session lifetime and role cache of the FAB auth manager; the same everywhere."""
    auth = cfg.auth
    return {
        "fab": {
            "auth_rate_limited": "True",
            "auth_rate_limit": auth.login_rate_limit,
            "session_lifetime_minutes": str(auth.session_lifetime_minutes),
            "cache_ttl": str(auth.permission_cache_seconds),
        },
    }
