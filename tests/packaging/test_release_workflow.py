"""The released image (issue 24): the release workflow, the Dockerfile's build arguments and the one image name.

.github/workflows/release.yml is linted with actionlint (and shellcheck on its run: scripts); its build
arguments, platforms and version check are held to platform/Dockerfile, pyproject.toml and
helm/airdeck/Chart.yaml; and the default image reference is one name everywhere (chart values, Terraform
variable defaults, docs, the workflow's push target). No Docker engine runs here: what only a real
build and push prove is listed in docs/cloud.md ("The image").
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import CI, ci_values, pod_spec, render

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
DOCKERFILE = REPO / "platform" / "Dockerfile"
CHART = REPO / "helm" / "airdeck" / "Chart.yaml"
ACTIONLINT = REPO / ".venv" / "bin" / "actionlint"
ARCHITECTURES = "linux/amd64,linux/arm64"
IDENTITY_REGEXP = r"^https://github.com/airdeck/airdeck/\.github/workflows/release\.yml@refs/tags/v"


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(RELEASE.read_text())
    assert isinstance(data, dict)
    return data


def _steps(job: str = "image") -> list[dict[str, Any]]:
    return list(_workflow()["jobs"][job]["steps"])


def _step(uses_prefix: str) -> dict[str, Any]:
    return next(s for s in _steps() if str(s.get("uses", "")).startswith(uses_prefix))


def _build_args() -> dict[str, str]:
    lines = str(_step("docker/build-push-action@")["with"]["build-args"]).splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip())


def _dockerfile_args() -> dict[str, str]:
    """Every ARG of platform/Dockerfile with its default (quotes removed)."""
    args = {}
    for name, default in re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$", DOCKERFILE.read_text(), re.M):
        if default or name not in args:
            args[name] = default.strip('"')
    return args


def _cloud_extras() -> list[str]:
    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def _chart() -> dict[str, Any]:
    return dict(yaml.safe_load(CHART.read_text()))


def _published_name() -> str:
    """ghcr.io/<owner>/<name> of the repository the chart names as its home (where the workflow runs)."""
    home = _chart()["home"]
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", home)
    assert match, f"helm/airdeck/Chart.yaml home {home!r} is not the GitHub repository"
    return f"ghcr.io/{match.group(1).lower()}"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ACTIONLINT), "-color=false", *map(str, paths)], cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=120)


# --- actionlint (+ shellcheck) ---------------------------------------------------------------------


def test_every_workflow_passes_actionlint_and_shellcheck() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: apt-get install -y shellcheck (scripts/test installs it)"
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert RELEASE in files
    result = _actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The linter bites: an unquoted variable (shellcheck SC2086), a bad permission and a bad expression."""
    assert shutil.which("shellcheck")
    broken = RELEASE.read_text().replace('"${IMAGE}@${DIGEST}"', "${IMAGE}@${DIGEST}", 1)
    broken = broken.replace("id-token: write", "id-token: writ", 1)
    broken = broken.replace("steps.build.outputs.digest", "steps.build.outputs.digest(", 1)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    path = tmp_path / ".github" / "workflows" / "release.yml"
    path.write_text(broken)
    result = _actionlint(path)
    assert result.returncode != 0
    assert "SC2086" in result.stdout, result.stdout
    assert '"writ"' in result.stdout, result.stdout
    assert "digest(" in result.stdout, result.stdout


def test_scripts_pass_shellcheck() -> None:
    assert shutil.which("shellcheck")
    result = subprocess.run(["shellcheck", str(REPO / "scripts" / "image")], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stdout


# --- the workflow's shape --------------------------------------------------------------------------


def test_the_workflow_runs_on_version_tags_only_with_minimal_permissions() -> None:
    workflow = _workflow()
    on = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on:` as True
    assert on == {"push": {"tags": ["v*.*.*"]}}
    assert workflow["permissions"] == {}
    assert list(workflow["jobs"]) == ["image", "chart"]
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}


def test_every_action_is_pinned_by_a_full_commit_sha() -> None:
    text = RELEASE.read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)$", text, re.M)
    assert len(uses) == 9
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by a full commit SHA"
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{ref}: name the version tag in a comment"


def test_the_tag_is_checked_before_anything_is_built_or_pushed() -> None:
    steps = _steps()
    check = next(i for i, s in enumerate(steps) if "scripts/release-check" in str(s.get("run", "")))
    login = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("docker/login-action@"))
    build = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("docker/build-push-action@"))
    assert check < login < build
    assert "persist-credentials" in steps[0]["with"] and steps[0]["with"]["persist-credentials"] is False


def test_the_build_is_multi_arch_with_sbom_provenance_and_pushed_under_the_repository_name() -> None:
    build = _step("docker/build-push-action@")["with"]
    assert build["platforms"] == ARCHITECTURES
    assert build["file"] == "platform/Dockerfile" and build["context"] == "."
    assert build["push"] is True and build["sbom"] is True and build["provenance"] == "mode=max"
    assert build["tags"] == "${{ steps.release.outputs.image }}:${{ steps.release.outputs.version }}"
    assert _step("docker/setup-qemu-action@")["with"]["platforms"] == "arm64"
    assert _step("docker/login-action@")["with"]["registry"] == "ghcr.io"


def test_the_image_is_signed_keyless_and_the_signature_verified_by_digest() -> None:
    sign = next(s for s in _steps() if "cosign sign" in str(s.get("run", "")))
    assert 'cosign sign --yes "${IMAGE}@${DIGEST}"' in sign["run"]
    assert "cosign verify" in sign["run"]
    assert "--certificate-oidc-issuer https://token.actions.githubusercontent.com" in sign["run"]
    assert sign["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    identity = sign["env"]["IDENTITY"].replace("${{ github.server_url }}", "https://github.com").replace(
        "${{ github.repository }}", _published_name().removeprefix("ghcr.io/"))
    assert identity == IDENTITY_REGEXP
    assert re.match(IDENTITY_REGEXP, "https://github.com/airdeck/airdeck/.github/workflows/release.yml@refs/tags/v0.1.0")
    assert not re.match(IDENTITY_REGEXP, "https://github.com/someone/fork/.github/workflows/release.yml@refs/tags/v0.1.0")
    assert not re.match(IDENTITY_REGEXP, "https://github.com/airdeck/airdeck/.github/workflows/ci.yml@refs/heads/main")


def test_the_chart_is_pushed_after_the_image_to_the_checked_target_and_signed() -> None:
    chart = _workflow()["jobs"]["chart"]
    assert chart["needs"] == "image"
    assert _workflow()["jobs"]["image"]["outputs"] == {"version": "${{ steps.release.outputs.version }}",
                                                      "charts": "${{ steps.release.outputs.charts }}"}
    push = next(s for s in _steps("chart") if "helm push" in str(s.get("run", "")))
    assert push["env"]["VERSION"] == "${{ needs.image.outputs.version }}"
    assert push["env"]["CHARTS"] == "${{ needs.image.outputs.charts }}"
    assert push["shell"] == "bash", "an explicit bash shell runs with pipefail (helm push | tee)"
    assert "--password-stdin" in push["run"] and "${TOKEN}" not in push["run"].replace('"${TOKEN}"', "")
    assert 'cosign sign --yes "${chart}"' in push["run"]


# --- build arguments == Dockerfile ARGs == pyproject extras -----------------------------------------


def test_every_build_argument_is_an_arg_of_the_dockerfile() -> None:
    args = _dockerfile_args()
    missing = sorted(set(_build_args()) - set(args))
    assert not missing, f"release.yml passes build-args the Dockerfile does not declare: {missing}"


def test_the_release_extras_are_every_cloud_extra_and_the_dockerfile_default() -> None:
    extras = _cloud_extras()
    assert extras == ["aws", "gcp", "azure"]
    assert _build_args()["AIRDECK_EXTRAS"].split(",") == extras
    assert _dockerfile_args()["AIRDECK_EXTRAS"].split(",") == extras, (
        "platform/Dockerfile's default AIRDECK_EXTRAS must be every cloud extra, as the release builds")


# --- scripts/release-check ------------------------------------------------------------------------


def _release_check(tmp_path: Path, tag: str, *, pyproject: str, app_version: str, chart_version: str = "",
                   repository: str = "Airdeck/Airdeck") -> subprocess.CompletedProcess[str]:
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy2(REPO / "scripts" / "release-check", tmp_path / "scripts" / "release-check")
    (tmp_path / "helm" / "airdeck").mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "airdeck"\nversion = "{pyproject}"\n')
    (tmp_path / "helm" / "airdeck" / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: airdeck\nversion: {chart_version or pyproject}\n"
        f"appVersion: {app_version}  # the image tag\n")
    return subprocess.run([str(tmp_path / "scripts" / "release-check"), tag, repository], capture_output=True,
                          text=True, check=False, timeout=60)


def test_release_check_accepts_the_declared_version_and_names_the_image(tmp_path: Path) -> None:
    result = _release_check(tmp_path, "v1.2.3", pyproject="1.2.3", app_version='"1.2.3"')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["version=1.2.3", "image=ghcr.io/airdeck/airdeck",
                                          "charts=oci://ghcr.io/airdeck/charts"]


@pytest.mark.parametrize(("pyproject", "app_version", "chart_version", "named"), [
    ("1.2.4", "1.2.3", "1.2.3", "pyproject.toml: [project] version is '1.2.4'"),
    ("1.2.3", "'1.2.4'", "1.2.3", "helm/airdeck/Chart.yaml: appVersion is '1.2.4'"),
    ("1.2.3", "1.2.3", '"1.3.0"', "helm/airdeck/Chart.yaml: version is '1.3.0'"),
])
def test_release_check_refuses_a_tag_that_differs_and_names_the_file(
        tmp_path: Path, pyproject: str, app_version: str, chart_version: str, named: str) -> None:
    result = _release_check(tmp_path, "v1.2.3", pyproject=pyproject, app_version=app_version,
                            chart_version=chart_version)
    assert result.returncode == 1 and result.stdout == ""
    assert named in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2", "v1.2.3-rc1", "main"])
def test_release_check_refuses_what_is_no_release_tag(tmp_path: Path, tag: str) -> None:
    result = _release_check(tmp_path, tag, pyproject="1.2.3", app_version="1.2.3")
    assert result.returncode == 1 and "vMAJOR.MINOR.PATCH" in result.stderr


def test_the_repository_passes_its_own_release_check() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert _chart()["appVersion"] == version and _chart()["version"] == version
    result = subprocess.run([str(REPO / "scripts" / "release-check"), f"v{version}",
                             _published_name().removeprefix("ghcr.io/")], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"image={_published_name()}" in result.stdout.splitlines()


# --- one image name everywhere ---------------------------------------------------------------------


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def test_the_default_image_is_one_name_everywhere() -> None:
    name = _published_name()
    charts = f"{name.rsplit('/', 1)[0]}/charts"
    values = yaml.safe_load((REPO / "helm" / "airdeck" / "values.yaml").read_text())
    assert values["images"]["airdeck"]["repository"] == name
    assert values["images"]["airdeck"]["tag"] == "", "an empty tag is the chart's appVersion, the release tag"
    variables = sorted(REPO.glob("terraform/**/variables.tf"))
    defaults = {p.relative_to(REPO).as_posix(): re.findall(r'repository\s*=\s*optional\(string,\s*"([^"]*)"\)',
                                                         p.read_text()) for p in variables}
    image_modules = {p: d for p, d in defaults.items() if d}
    assert set(image_modules) >= {f"terraform/{d}/variables.tf" for d in (
        "modules/airdeck", "modules/helm-values", "examples/aws", "examples/gcp", "examples/azure")}
    assert all(d == [name] for d in image_modules.values()), image_modules
    others = {}
    for path in _tracked_files():
        if path.suffix in {".lock", ".png", ".svg"} or not path.is_file() or path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        refs = set(re.findall(r"ghcr\.io/[A-Za-z0-9._/${}-]*[A-Za-z0-9}]", text))
        wrong = sorted(r for r in refs if r != name and not r.startswith(name + ":")
                       and r != charts and not r.startswith(f"{charts}/airdeck"))
        if wrong:
            others[path.relative_to(REPO).as_posix()] = wrong
    assert not others, f"another image name than {name}: {others}"
    for doc in ("docs/cloud.md", "docs/kubernetes.md", "README.md"):
        assert name in (REPO / doc).read_text(), f"{doc} does not name the published image {name}"


def test_the_chart_runs_the_published_image_at_its_app_version_by_default() -> None:
    reference = f"{_published_name()}:{_chart()['appVersion']}"
    images = set()
    for obj in render(ci_values(CI[0])):
        spec = pod_spec(obj)
        for container in (spec or {}).get("containers", []) + (spec or {}).get("initContainers", []):
            if "airdeck" in container["image"]:
                images.add(container["image"])
    assert images == {reference}


# --- scripts/image (docker replaced by a recorder: no engine runs here) -----------------------------


def _image(tmp_path: Path, *args: str, env: dict[str, str] | None = None
           ) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "docker-argv"
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\n[ "$1 $2" = "buildx version" ] && exit 0\nprintf "%s\\n" "$@" > "{record}"\n')
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    inherited = {k: v for k, v in os.environ.items() if k not in ("AIRDECK_EXTRAS", "PLATFORMS")}
    environment = {**inherited, "PATH": f"{bin_dir}:{os.environ['PATH']}", **(env or {})}
    result = subprocess.run([str(REPO / "scripts" / "image"), *args], capture_output=True, text=True,
                            check=False, timeout=60, env=environment)
    return result, record.read_text() if record.exists() else ""


def test_scripts_image_builds_both_architectures_with_every_extra_and_pushes(tmp_path: Path) -> None:
    result, argv = _image(tmp_path, "registry.example.com/team/airdeck")
    assert result.returncode == 0, result.stderr
    args = argv.splitlines()
    assert args[:2] == ["buildx", "build"] and "--push" in args
    assert args[args.index("--platform") + 1] == ARCHITECTURES
    assert args[args.index("--build-arg") + 1] == "AIRDECK_EXTRAS=aws,gcp,azure"
    assert args[args.index("--file") + 1] == str(DOCKERFILE)
    assert args[args.index("--tag") + 1] == f"registry.example.com/team/airdeck:{_chart()['appVersion']}"
    assert "--sbom=true" in args and "--provenance=mode=max" in args and args[-1] == str(REPO)


def test_scripts_image_narrows_extras_and_takes_a_tag(tmp_path: Path) -> None:
    result, argv = _image(tmp_path, "localhost:5000/airdeck", "0.1.0-aws",
                          env={"AIRDECK_EXTRAS": "aws", "PLATFORMS": "linux/arm64"})
    assert result.returncode == 0, result.stderr
    args = argv.splitlines()
    assert args[args.index("--build-arg") + 1] == "AIRDECK_EXTRAS=aws"
    assert args[args.index("--platform") + 1] == "linux/arm64"
    assert args[args.index("--tag") + 1] == "localhost:5000/airdeck:0.1.0-aws"


@pytest.mark.parametrize(("args", "says"), [
    ((), "usage: scripts/image REPOSITORY [TAG]"),
    (("registry.example.com/airdeck:0.1.0",), "without a tag or digest"),
    (("registry.example.com/airdeck", "latest"), "'latest' is refused"),
])
def test_scripts_image_refuses_bad_arguments_before_building(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    result, argv = _image(tmp_path, *args)
    assert result.returncode == 2 and says in result.stderr and argv == ""


def test_docs_give_the_build_command_and_the_signature_check() -> None:
    for doc in ("docs/cloud.md", "docs/kubernetes.md"):
        text = (REPO / doc).read_text()
        assert "scripts/image " in text, f"{doc}: the multi-arch build-and-push command"
        assert "linux/arm64" in text and "linux/amd64" in text, f"{doc}: the node architectures"
    cloud = (REPO / "docs" / "cloud.md").read_text()
    assert "cosign verify" in cloud and f"--certificate-identity-regexp '{IDENTITY_REGEXP}'" in cloud
    assert "--certificate-oidc-issuer https://token.actions.githubusercontent.com" in cloud
