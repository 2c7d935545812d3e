"""airdeck.yaml: the typed model, loading with people-readable errors, and rendering per service."""

from airdeck.config.errors import ConfigError, ConfigIssue
from airdeck.config.loader import load_config
from airdeck.config.model import AirdeckConfig

__all__ = ["AirdeckConfig", "ConfigError", "ConfigIssue", "load_config"]
