"""What the running services were started with, and what a new plan would change.

``airdeck up`` on a running platform compares the plan the services run (recorded in
``run/applied.json`` when each component last became healthy) with the plan of the configuration now,
and restarts only the components whose plan differs. The record holds no secret: each component is
kept as keyed digests (HMAC-SHA256 with a random 0600 key of this home) of its argv, environment,
settings, files and probe, computed with secrets resolved, so a rotated secret counts as a change;
the Airflow settings are kept as they are, so a change can be named key by key, except the options
Airflow counts as sensitive (:mod:`airdeck.config.airflow_options`), kept as keyed digests too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airdeck.config.airflow_options import MASK, digested, is_sensitive
from airdeck.plan.model import Component, Deployment, Probe, SecretRef
from airdeck.plan.render import fill, with_secrets
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private

#: Bumped when the digest recipe changes (an old record then counts as unknown, not as a change).
VERSION = 1
ASPECTS = ("command", "environment", "settings", "secret settings", "files", "shared files", "health check")


def record_path(home: AirdeckHome) -> str:
    return str(home.run / "applied.json")


def _key(home: AirdeckHome) -> bytes:
    path = home.run / "applied.key"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    home.run.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    write_private(path, key)
    return key.encode("ascii")


def _digest(key: bytes, value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@dataclass
class Fingerprint:
    """One component as it is (or would be) started: a digest per aspect, settings in the clear."""

    aspects: dict[str, str]
    settings: dict[str, dict[str, str]] = field(default_factory=dict)
    probe: dict[str, Any] | None = None  # the health check (no secret: a secret is named, not given)

    def as_dict(self) -> dict[str, Any]:
        return {"aspects": self.aspects, "settings": self.settings, "probe": self.probe}

    def health_check(self) -> Probe | None:
        """The health check the component was started with (to judge a rolled-back component)."""
        data = self.probe
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            return None
        secret = data.get("secret")
        ref = SecretRef(str(secret["name"]), str(secret.get("template", "{}"))) if isinstance(secret, dict) else None
        return Probe(data["kind"], url=str(data.get("url", "")), detail=str(data.get("detail", "")),  # type: ignore[arg-type]
                     secret=ref, ca_file=data.get("ca_file"))

    @classmethod
    def of_dict(cls, data: Any) -> Fingerprint | None:
        if not isinstance(data, dict) or not isinstance(data.get("aspects"), dict):
            return None
        raw = data.get("settings")
        settings = {str(section): {str(k): str(v) for k, v in options.items()}
                    for section, options in (raw.items() if isinstance(raw, dict) else ())
                    if isinstance(options, dict)}
        probe = data.get("probe") if isinstance(data.get("probe"), dict) else None
        return cls({str(k): str(v) for k, v in data["aspects"].items()}, settings, probe)


def fingerprint(comp: Component, shared: str, key: bytes, resolve: Callable[[str], str]) -> Fingerprint:
    """``comp``'s fingerprint; ``shared`` is the digest of the files every Airflow component reads."""
    secret_values = with_secrets({}, comp.secret_settings, lambda ref: ref.apply(resolve(ref.name)))
    files = sorted((spec.path, spec.mode, fill(spec, resolve)) for spec in comp.files)
    probe = comp.probe
    probe_value = None
    if probe is not None:
        probe_value = [probe.kind, probe.url, probe.detail, probe.ca_file,
                       probe.secret.apply(resolve(probe.secret.name)) if probe.secret else None]
    aspects = {
        "command": _digest(key, [list(comp.argv), comp.directory, comp.user, comp.stop_signal, comp.start_secs]),
        "environment": _digest(key, dict(comp.env)),
        "settings": _digest(key, comp.settings),
        "secret settings": _digest(key, secret_values),
        "files": _digest(key, files),
        "shared files": shared if comp.airflow else "",
        "health check": _digest(key, [probe_value, list(comp.ports), comp.bind_host]),
    }
    recorded = None
    if probe is not None:
        recorded = {"kind": probe.kind, "url": probe.url, "detail": probe.detail, "ca_file": probe.ca_file,
                    "secret": {"name": probe.secret.name, "template": probe.secret.template} if probe.secret else None}
    return Fingerprint(aspects, digested(comp.settings, key), recorded)


def fingerprints(deployment: Deployment, home: AirdeckHome, resolve: Callable[[str], str]) -> dict[str, Fingerprint]:
    key = _key(home)
    shared = _digest(key, sorted((spec.path, fill(spec, resolve)) for spec in deployment.files))
    return {comp.name: fingerprint(comp, shared, key, resolve) for comp in deployment.components}


def read(home: AirdeckHome) -> dict[str, Fingerprint] | None:
    """The recorded fingerprints of the running components; None when there is no usable record."""
    try:
        with open(record_path(home), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("components"), dict):
        return None
    out = {}
    for name, value in data["components"].items():
        fp = Fingerprint.of_dict(value)
        if fp is not None:
            out[str(name)] = fp
    return out


def write(home: AirdeckHome, prints: dict[str, Fingerprint]) -> None:
    data = {"version": VERSION, "components": {name: fp.as_dict() for name, fp in sorted(prints.items())}}
    write_private(home.run / "applied.json", json.dumps(data, indent=1) + "\n")


def forget(home: AirdeckHome) -> None:
    try:
        os.unlink(record_path(home))
    except FileNotFoundError:
        pass


def changed_settings(old: Fingerprint, new: Fingerprint) -> list[str]:
    """The non-secret Airflow settings that differ, as ``[section] key: old → new``."""
    out = []
    sections = sorted(set(old.settings) | set(new.settings))
    for section in sections:
        before, after = old.settings.get(section, {}), new.settings.get(section, {})
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                if is_sensitive(section, key) or MASK in (before.get(key, ""), after.get(key, "")):
                    out.append(f"[{section}] {key}: changed (a secret, not shown)")
                    continue
                out.append(f"[{section}] {key}: {before.get(key, '(unset)')} → {after.get(key, '(unset)')}")
    return out


def differences(old: Fingerprint, new: Fingerprint) -> list[str]:
    """What differs between two fingerprints of one component, for people (never a value of a secret)."""
    out = []
    for aspect in ASPECTS:
        if old.aspects.get(aspect) == new.aspects.get(aspect):
            continue
        if aspect == "settings":
            out += changed_settings(old, new) or ["settings"]
        else:
            out.append(aspect)
    return out


@dataclass
class Change:
    """What ``up`` would do to one component."""

    name: str
    action: str  # "restart", "start", "stop", "keep"
    why: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.name, "action": self.action, "why": self.why}
