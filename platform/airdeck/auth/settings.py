"""Airflow settings the auth concern adds to every service's airflow.cfg (see config/render.py)."""

from __future__ import annotations

from airdeck.config.model import AirdeckConfig
from airdeck.state.home import AirdeckHome


def auth_airflow_settings(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> dict[str, dict[str, str]]:
    """Sign-in throttling, session lifetime and role cache of the FAB auth manager; the same on every service."""
    auth = cfg.auth
    return {
        "fab": {
            "auth_rate_limited": "True",
            "auth_rate_limit": auth.login_rate_limit,
            "session_lifetime_minutes": str(auth.session_lifetime_minutes),
            "cache_ttl": str(auth.permission_cache_seconds),
        },
    }
