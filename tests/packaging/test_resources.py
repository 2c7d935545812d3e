"""airdeck.resources finds the files airdeck ships, and the package's data links point at the sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from airdeck import resources
from airdeck.auth.roles import DEFAULT_FILE, load_roles
from airdeck.config.observability import ObservabilityFileError, ObservabilitySettings, mapping_file, repo_file
from airdeck.errors import AirdeckError
from airdeck.resources import ResourceNotFoundError, data_path, data_root, example_dags_folder

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "platform" / "airdeck" / "data"

#: What the platform reads at run time, by its name inside the data folder.
SHIPPED = {
    "prometheus/statsd-mapping.yml": "file",
    "prometheus/prometheus.yml": "file",
    "prometheus/alertmanager.yml": "file",
    "prometheus/rules": "dir",
    "prometheus/templates": "dir",
    "grafana/dashboards": "dir",
    "grafana/provisioning": "dir",
    "security/roles.yaml": "file",
}


@pytest.mark.parametrize(("name", "kind"), sorted(SHIPPED.items()))
def test_every_shipped_file_is_found_and_is_the_repository_source(name: str, kind: str) -> None:
    path = data_path(name)
    assert path.is_file() if kind == "file" else path.is_dir()
    # In a checkout the link resolves to the top-level source folder, which stays the one to edit.
    assert path == (REPO / name).resolve()


def test_data_links_are_relative_and_none_dangles() -> None:
    links = [p for p in DATA.rglob("*") if p.is_symlink()]
    assert {str(p.relative_to(DATA)) for p in links} == set(SHIPPED)
    for link in links:
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link} -> {target}: an absolute link breaks in other checkouts"
        assert link.exists(), f"{link} -> {target} dangles"


def test_the_rules_and_dashboards_are_inside() -> None:
    assert {p.name for p in data_path("prometheus/rules").glob("*.yml")} >= {"alerts.yml", "recording.yml"}
    dashboards = sorted(data_path("grafana/dashboards").glob("*.json"))
    assert dashboards, "no dashboard JSON shipped"
    assert (data_path("grafana/provisioning") / "dashboards" / "airdeck.yml").is_file()


def test_a_missing_file_is_an_airdeck_error_that_says_where_and_what_to_do() -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        data_path("prometheus/no-such-file.yml")
    assert isinstance(caught.value, AirdeckError)
    message = str(caught.value)
    assert "prometheus/no-such-file.yml" in message
    assert str(data_root() / "prometheus" / "no-such-file.yml") in message
    assert "reinstall airdeck" in message


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../pyproject.toml", "prometheus/../../x", "a\\b"])
def test_names_outside_the_data_folder_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a name inside airdeck's data folder"):
        data_path(name)


def test_the_default_mapping_is_the_shipped_one_and_a_missing_one_names_the_key() -> None:
    assert mapping_file(ObservabilitySettings()) == data_path("prometheus/statsd-mapping.yml")
    with pytest.raises(ObservabilityFileError) as caught:
        repo_file("prometheus/gone.yml", "observability.bridge.mapping")
    assert "observability.bridge.mapping" in str(caught.value)
    assert "prometheus/gone.yml" in str(caught.value)


def test_the_default_roles_file_is_the_shipped_one_and_is_valid() -> None:
    assert DEFAULT_FILE == data_path("security/roles.yaml")
    assert load_roles(DEFAULT_FILE)


def test_example_dags_are_found_in_the_package() -> None:
    folder = example_dags_folder()
    assert folder == resources.package_root() / "example_dags"
    assert any(folder.glob("example_*.py"))


def test_the_shipped_prometheus_config_names_rules_that_ship_too() -> None:
    config = yaml.safe_load(data_path("prometheus/prometheus.yml").read_text(encoding="utf-8"))
    base = data_path("prometheus/prometheus.yml").parent
    for pattern in config["rule_files"]:
        assert list(base.glob(pattern)), f"rule_files {pattern!r} matches nothing next to prometheus.yml"
