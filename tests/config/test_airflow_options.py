"""Every option Airflow counts as sensitive stays out of what airdeck shows and records when it is given in
``airflow.extra_config``: ``config render``, ``run/applied.json`` and what ``up --dry-run`` names (issue 22,
finding 6). Airflow's own list (its parser's ``sensitive_config_values``, providers' configuration included)
is the reference; airdeck's list is derived from the installed files, never copied."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.cli.main import main
from airdeck.config.airflow_options import MANAGED_OPTIONS, airflow_sensitive_options, is_sensitive
from airdeck.config.loader import parse_config
from airdeck.stack import applied
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.harness import write_config


def _airflow_own() -> set[tuple[str, str]]:
    from airflow.configuration import conf

    conf.load_providers_configuration()
    return set(conf.sensitive_config_values)


AIRFLOW_SENSITIVE = sorted(_airflow_own())
#: Given in extra_config: Airflow's sensitive options airdeck does not set itself, and options whose name
#: Airflow's secrets masker hides (the [smtp] password of Airflow 2 configurations).
GIVEN = [pair for pair in AIRFLOW_SENSITIVE if pair not in MANAGED_OPTIONS] + [
    ("smtp", "smtp_password"), ("openlineage", "transport"), ("email", "sendgrid_api_key")]


def test_every_option_airflow_marks_sensitive_is_sensitive() -> None:
    assert len(AIRFLOW_SENSITIVE) >= 15  # the template and the celery provider were read
    missing = [pair for pair in AIRFLOW_SENSITIVE if not is_sensitive(*pair)]
    assert missing == []
    assert set(airflow_sensitive_options()) <= set(AIRFLOW_SENSITIVE) | {("secrets", "backend_kwargs")}
    assert not is_sensitive("core", "dags_folder") and not is_sensitive("celery", "worker_concurrency")


def _secret(section: str, key: str) -> str:
    return f"S3cr3t-{section}-{key}-value"


def _extra(value_of=_secret) -> dict:
    extra: dict[str, dict[str, str]] = {}
    for section, key in GIVEN:
        extra.setdefault(section, {})[key] = value_of(section, key)
    return {"airflow": {"extra_config": extra}}


def _run(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("service", ["api-server", "scheduler", "worker-1", "cli"])
def test_config_render_masks_every_sensitive_option(tmp_path: Path, service: str) -> None:
    config = write_config(tmp_path, _extra())
    code, text = _run("--config", str(config), "--home", str(tmp_path / "home"), "config", "render",
                      "--service", service)
    assert code == 0, text
    for section, key in GIVEN:
        assert _secret(section, key) not in text, f"[{section}] {key} shown by config render"
    assert "sentry_dsn = ***" in text


def test_applied_record_and_dry_run_never_hold_a_sensitive_value(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    store = SecretStore(home.secrets)

    def prints(data: dict) -> dict[str, applied.Fingerprint]:
        cfg = parse_config(data)
        return applied.fingerprints(concerns.plan(cfg, home), home,
                                    concerns.resolver(cfg, home, store, generate=True))

    before = prints(_extra())
    applied.write(home, before)
    record = (home.run / "applied.json").read_text()
    after = prints(_extra(lambda s, k: f"N3w-{s}-{k}-value"))
    changed = applied.differences(before["scheduler"], after["scheduler"])
    shown = "\n".join(changed)
    for section, key in GIVEN:
        assert _secret(section, key) not in record, f"[{section}] {key} stored in clear in applied.json"
        assert _secret(section, key) not in shown and f"N3w-{section}-{key}" not in shown
        # a change of the secret is still named, without its value
        assert f"[{section.lower()}] {key.lower()}: changed (a secret, not shown)" in changed
