"""The platform as most people run it: as themselves, without root (issue 13, "Non-root users").

When the tests run as root, the setup creates an unprivileged user and lets it read the checkout, the
virtual environment and the Python installation (POSIX ACLs for that user only, removed afterwards; the
folders above them, such as a 0700 /root, get search permission for that user alone). When the tests
already run as a regular user, that user is used. Everything airdeck does here runs as that user: ``up``,
a DAG run, kill -9 of the scheduler and its restart, ``down``; no process of the stack runs as root.
One stack for the module.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.harness import REPO, Stack, alive, stack_pids, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

SETFACL = shutil.which("setfacl")


@dataclass
class Account:
    """The unprivileged user the stack runs as, and what the setup changed to let it in (undone after)."""

    name: str
    uid: int
    gid: int
    home: Path
    created: bool
    acl_paths: list[Path] = field(default_factory=list)  # got "u:NAME:x" (search only)
    bare: set[Path] = field(default_factory=set)  # of those, the ones that had no ACL before (undo: setfacl -b)
    acl_trees: list[Path] = field(default_factory=list)  # got "u:NAME:rX" recursively
    chmodded: dict[Path, int] = field(default_factory=dict)  # without setfacl: o+x added, old mode kept

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 900,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.created:
            kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False, input=input, **kwargs)

    def can(self, *argv: str) -> bool:
        return self.run(list(argv), {"PATH": "/usr/bin:/bin", "HOME": str(self.home)}, self.home,
                        timeout=120).returncode == 0


def _needed_trees() -> list[Path]:
    """What the user must read: the checkout, the virtual environment and the Python it is made from."""
    trees = [REPO, Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent]
    out: list[Path] = []
    for tree in trees:
        real = Path(os.path.realpath(tree))
        if real not in out:
            out.append(real)
    return out


def _let_in(account: Account) -> None:
    """Give ``account`` search permission on the folders above each tree, then read access to the trees
    themselves only if it still cannot import airdeck and Airflow (a checkout made with umask 077)."""
    for tree in _needed_trees():
        for folder in reversed([tree, *tree.parents]):
            if account.can("/bin/sh", "-c", 'test -x "$0"', str(folder)):
                continue
            if SETFACL:
                if _has_no_acl(folder):
                    account.bare.add(folder)
                subprocess.run([SETFACL, "-m", f"u:{account.name}:x", str(folder)], check=True)
                account.acl_paths.append(folder)
            else:
                account.chmodded[folder] = stat.S_IMODE(folder.stat().st_mode)
                folder.chmod(account.chmodded[folder] | 0o001)
    probe = [sys.executable, "-c", "import airdeck.cli.main, airflow.providers.fab"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(account.home), **_pythonpath()}
    if account.run(probe, env, account.home, timeout=300).returncode == 0:
        return
    if not SETFACL:
        raise RuntimeError("the unprivileged test user cannot read the checkout or the virtual environment, "
                           "and setfacl is missing to let it: apt-get install -y acl")
    for tree in _needed_trees():
        if _has_no_acl(tree):
            account.bare.add(tree)
        subprocess.run([SETFACL, "-R", "-m", f"u:{account.name}:rX", str(tree)], check=True)
        account.acl_trees.append(tree)
    result = account.run(probe, env, account.home, timeout=300)
    assert result.returncode == 0, f"the test user still cannot import airdeck:\n{result.stderr[-2000:]}"


def _has_no_acl(folder: Path) -> bool:
    getfacl = shutil.which("getfacl")
    if getfacl is None:
        return False
    shown = subprocess.run([getfacl, "--skip-base", "--absolute-names", str(folder)], capture_output=True,
                           text=True, check=False)
    return shown.returncode == 0 and not shown.stdout.strip()


def _undo(account: Account) -> None:
    for tree in account.acl_trees:
        undo = ["-b"] if tree in account.bare else ["-x", f"u:{account.name}"]
        subprocess.run([SETFACL or "setfacl", "-R", *undo, str(tree)], check=False)
    for folder in account.acl_paths:
        # Removing the entry leaves the mask setfacl added; a folder that had no ACL gets none back.
        undo = ["-b"] if folder in account.bare else ["-x", f"u:{account.name}"]
        subprocess.run([SETFACL or "setfacl", *undo, str(folder)], check=False)
    for folder, mode in account.chmodded.items():
        folder.chmod(mode)


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        folder = Path(tempfile.mkdtemp(prefix="airdeck-nonroot-"))
        try:
            yield Account(entry.pw_name, entry.pw_uid, entry.pw_gid, folder, created=False)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if shutil.which("useradd") is None:
        pytest.fail("useradd is missing: the non-root tests create an unprivileged user with it "
                    "(apt-get install passwd)")
    base = Path(tempfile.mkdtemp(prefix="airdeck-nonroot-", dir="/tmp"))
    base.chmod(0o711)
    name = f"airdeck-t{secrets.token_hex(3)}"
    home = base / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", "--user-group",
                    name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    acct = Account(name, entry.pw_uid, entry.pw_gid, home, created=True)
    try:
        _let_in(acct)
        yield acct
    finally:
        _undo(acct)
        for proc in psutil.process_iter(["uids"]):  # nothing of the user may outlive the tests
            try:
                if proc.info["uids"] and proc.info["uids"].real == acct.uid:
                    proc.kill()
            except psutil.Error:
                continue
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


class UserStack(Stack):
    """A :class:`Stack` whose ``airdeck`` commands run as the unprivileged user."""

    def __init__(self, home: Path, config: Path, account: Account):
        super().__init__(home, config)
        self.account = account

    def env(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "TZ") if key in os.environ}
        env.update({"HOME": str(self.account.home), "USER": self.account.name, "LOGNAME": self.account.name,
                    "AIRDECK_HOME": str(self.home), "AIRDECK_CONFIG": str(self.config), **_pythonpath()})
        return env

    def airdeck(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = self.account.run([sys.executable, "-m", "airdeck.cli.main", *args], self.env(),
                                  self.account.home, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"airdeck {' '.join(args)} (as {self.account.name}) exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


@dataclass
class Started:
    stack: UserStack
    up: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def started(account: Account) -> Iterator[Started]:
    config = write_config(account.home, {"airflow": {"extra_config": {
        "scheduler": {"task_instance_heartbeat_timeout": 60}}}})
    if account.created:
        os.chown(config, account.uid, account.gid)
    stack = UserStack(account.home / "airdeck-home", config, account)
    up = stack.airdeck("up", "--detach", check=False, timeout=1200)
    try:
        yield Started(stack, up)
    finally:
        stack.airdeck("down", check=False, timeout=300)


def _services(stack: Stack) -> dict[str, dict]:
    return {svc["name"]: svc for svc in stack.status()["services"]}


def test_up_as_an_unprivileged_user(started: Started, account: Account) -> None:
    assert started.up.returncode == 0, f"airdeck up as {account.name} failed:\n{started.up.stdout}\n{started.up.stderr}"
    services = _services(started.stack)
    assert services and all(svc["health"] == "healthy" for svc in services.values()), services
    owners: dict[int, int] = {}
    for pid in alive(stack_pids(started.stack.home)):
        try:
            owners[pid] = psutil.Process(pid).uids().real
        except psutil.Error:
            continue
    assert owners and set(owners.values()) == {account.uid}, f"processes not run by {account.name}: {owners}"


def test_state_and_logs_are_private_to_the_user(started: Started, account: Account) -> None:
    home = started.stack.home
    assert home.stat().st_uid == account.uid
    for folder in (home, home / "secrets", home / "logs", home / "run"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    logs = list((home / "logs").glob("*.log"))
    assert any(p.name == "scheduler.log" for p in logs), logs
    for log in logs:  # issue 13, finding 14: service logs were 0644 in 0755 folders
        assert stat.S_IMODE(log.stat().st_mode) & 0o077 == 0, (log, oct(log.stat().st_mode))
    if account.created:
        assert account.can("/bin/sh", "-c", 'test -r "$0"', str(home / "secrets" / "jwt_secret"))
        outsider = subprocess.run(["/bin/sh", "-c", f'test -r "{home}/logs/scheduler.log"'], user="nobody",
                                  check=False, capture_output=True)
        assert outsider.returncode != 0, "another user can read the service logs"


def test_kill_9_restart_and_a_dag_run(started: Started) -> None:
    stack = started.stack
    before = _services(stack)["scheduler"]
    kill = stack.account.run(["/bin/sh", "-c", f"kill -KILL {int(before['pid'])}"], stack.env(), stack.account.home)
    assert kill.returncode == 0, kill.stderr  # the user's own process: no root needed
    deadline = time.monotonic() + 300
    after = before
    while time.monotonic() < deadline:
        after = _services(stack)["scheduler"]
        if after["pid"] not in (None, before["pid"]) and after["health"] == "healthy":
            break
        time.sleep(2)
    assert after["pid"] != before["pid"] and after["health"] == "healthy", after
    assert after["restarts"] >= before["restarts"] + 1
    run_id = stack.trigger("example_etl_daily")
    assert stack.wait_for_run("example_etl_daily", run_id) == "success"


def test_down_as_the_user_leaves_nothing_running(started: Started) -> None:
    stack = started.stack
    pids = stack_pids(stack.home)
    assert pids
    stack.airdeck("down", timeout=300)
    time.sleep(1)
    assert alive(pids) == set()
    assert stack_pids(stack.home) == set()
    assert not (stack.home / "run" / "supervisord.pid").exists()
