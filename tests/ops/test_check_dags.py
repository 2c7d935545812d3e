"""`airdeck check-dags`: ruff's Airflow 3 rules over DAG files written here, with file, line and rule."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airdeck.ops.check_dags import RULES, DagCheckError, check_dags

from tests.cli.helpers import PLATFORM, run

NOBODY = 65534  # uid and gid of the user nobody (Debian)

# Airflow 2 DAG code; the comment at the end of a line names the rules that must report that line (ruff
# reports a moved name where it is used, not where it is imported).
AIRFLOW2_DAG = '''\
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.operators.dummy import DummyOperator
from airflow.operators.subdag import SubDagOperator
from airflow.utils.dates import days_ago


def _callback(*args):
    return None


with DAG(  # AIR311
    "legacy",
    schedule_interval="@daily",  # AIR301
    start_date=days_ago(2),  # AIR301
    sla_miss_callback=_callback,  # AIR311
) as dag:
    hello = BashOperator(task_id="hello", bash_command="echo hi", sla=timedelta(hours=1))  # AIR312 AIR311
    empty = DummyOperator(task_id="empty")  # AIR302
    call = PythonOperator(task_id="call", python_callable=_callback)  # AIR312
    sub = SubDagOperator(task_id="sub", subdag=None)  # AIR301
    hello >> empty >> call >> sub
'''

# Lines of the same era: contrib imports and the Dataset API.
AIRFLOW2_MORE = '''\
from airflow.contrib.hooks.ssh_hook import SSHHook
from airflow.datasets import Dataset

orders = Dataset("s3://bucket/orders")  # AIR311
hook = SSHHook(ssh_conn_id="x")  # AIR301
'''

AIRFLOW3_DAG = '''\
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, task

orders = Asset("s3://bucket/orders")

with DAG("modern", schedule="@daily", start_date=datetime(2025, 1, 1), catchup=False) as dag:
    hello = BashOperator(task_id="hello", bash_command="echo hi", outlets=[orders])

    @task
    def total() -> int:
        return 1

    hello >> EmptyOperator(task_id="done") >> total()
'''


def expected(folder: Path) -> set[tuple[str, int, str]]:
    """(file, line, rule) for every rule named in a line's ``# AIRnnn ...`` comment in the folder's files."""
    found = set()
    for path in sorted(folder.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "# AIR" in line:
                for code in line.rsplit("# ", 1)[1].split():
                    found.add((path.relative_to(folder).as_posix(), number, code))
    return found


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_airflow2_code_is_reported_with_file_line_and_rule(tmp_path: Path) -> None:
    dags = write(tmp_path / "dags", {"legacy.py": AIRFLOW2_DAG, "sub/more.py": AIRFLOW2_MORE,
                                     "modern.py": AIRFLOW3_DAG})
    report = check_dags(dags)
    assert not report.ok
    assert report.files_checked == 3
    got = {(f.file, f.line, f.code) for f in report.findings}
    assert expected(dags) <= got, expected(dags) - got
    # Nothing is reported on an unmarked line (the checker and the marks agree both ways).
    assert got <= expected(dags), got - expected(dags)
    assert "modern.py" not in report.files_with_findings
    by_line = {(f.file, f.line): f for f in report.findings}
    schedule = by_line[("legacy.py", 17)]
    assert "schedule_interval" in schedule.message and schedule.fix_available and schedule.column == 5
    assert schedule.rule == "airflow3-removal"
    assert by_line[("legacy.py", 18)].message.count("days_ago") == 1
    assert report.counts()["AIR301"] >= 4 and report.fixable >= 2
    assert report.ruff_version.count(".") == 2


def test_a_clean_airflow3_folder_has_no_findings(tmp_path: Path) -> None:
    report = check_dags(write(tmp_path / "dags", {"modern.py": AIRFLOW3_DAG}))
    assert report.ok and report.findings == () and report.files_checked == 1


def test_airdecks_own_example_dags_are_clean() -> None:
    folder = PLATFORM / "airdeck" / "example_dags"
    report = check_dags(folder)
    assert report.files_checked == len(list(folder.glob("*.py"))) >= 4
    assert report.ok, report.findings


def test_the_folders_own_ruff_configuration_neither_silences_nor_writes(tmp_path: Path) -> None:
    dags = write(tmp_path / "dags", {
        "legacy.py": AIRFLOW2_DAG,
        "pyproject.toml": '[tool.ruff]\nexclude = ["*.py"]\n[tool.ruff.lint]\nignore = ["AIR"]\n',
        "ruff.toml": 'extend-exclude = ["legacy.py"]\n',
    })
    before = sorted(p.relative_to(dags) for p in dags.rglob("*"))
    report = check_dags(dags)
    assert {f.file for f in report.findings} == {"legacy.py"} and len(report.findings) >= 8
    assert sorted(p.relative_to(dags) for p in dags.rglob("*")) == before  # no .ruff_cache left behind


@pytest.mark.timeout(120)
def test_files_that_cannot_be_read_or_parsed_are_findings(tmp_path: Path) -> None:
    dags = write(tmp_path / "dags", {"modern.py": AIRFLOW3_DAG, "broken.py": "def f(:\n"})
    (dags / "latin1.py").write_bytes(b'name = "caf\xe9"\n')
    (dags / "gone.py").symlink_to(tmp_path / "nowhere.py")
    os.mkfifo(dags / "pipe.py")  # reading it would block forever
    report = check_dags(dags)
    got = {(f.file, f.code) for f in report.findings}
    assert {("broken.py", "invalid-syntax"), ("latin1.py", "E902"), ("gone.py", "E902"), ("pipe.py", "E902")} <= got
    assert all(f.unreadable for f in report.findings) and report.files_checked == 5
    assert "UTF-8" in next(f.message for f in report.findings if f.file == "latin1.py")


def as_nobody(call: Callable[[], Any]) -> Any:
    """``call()`` in a forked child that runs as the user nobody when we are root (CI), else right here.

    The child inherits the modules already imported (the interpreter's own files under /root are not
    readable by nobody); its result or exception comes back pickled through a pipe.
    """
    if os.geteuid() != 0:
        return call()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                outcome: tuple[str, Any] = ("ok", call())
            except Exception as exc:  # noqa: BLE001 - handed to the parent
                outcome = ("raised", repr(exc))
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(outcome, out)
        except BaseException:  # noqa: BLE001 - anything else: the parent sees a non-zero exit
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and data, "the unprivileged child failed"
    kind, value = pickle.loads(data)  # noqa: S301 - our own child's answer
    assert kind == "ok", value
    return value


def test_a_file_without_read_permission_is_a_finding() -> None:
    # A folder nobody can reach (the pytest tmp_path is under a 0700 folder of root's).
    base = Path(tempfile.mkdtemp(prefix="airdeck-check-dags-"))
    try:
        base.chmod(0o755)
        dags = write(base / "dags", {"secret.py": AIRFLOW3_DAG, "open.py": AIRFLOW3_DAG})
        dags.chmod(0o755)
        (dags / "open.py").chmod(0o644)
        (dags / "secret.py").chmod(0)
        if os.geteuid() == 0:
            assert list(check_dags(dags).findings) == []  # root reads it whatever its mode
        report = as_nobody(lambda: check_dags(dags))
        assert [(f.file, f.code) for f in report.findings] == [("secret.py", "E902")]
        assert report.files_checked == 2
    finally:
        shutil.rmtree(base)


def test_missing_folder_and_a_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DagCheckError, match="does not exist"):
        check_dags(tmp_path / "nope")
    (tmp_path / "one.py").write_text(AIRFLOW3_DAG)
    with pytest.raises(DagCheckError, match="is a file, not a folder"):
        check_dags(tmp_path / "one.py")


def test_cli_exit_codes_lines_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dags = write(tmp_path / "my dags [red]x[/]", {"legacy.py": AIRFLOW2_DAG})
    ran = run(capsys, "--home", str(tmp_path / "home"), "check-dags", str(dags))
    assert ran.code == 1
    assert f"{dags}/legacy.py:17:5: AIR301 `schedule_interval` is removed in Airflow 3.0 [fix available]" in ran.out
    assert "findings in 1 of 1 files" in ran.err and "ruff check --isolated" in ran.err

    ran = run(capsys, "--home", str(tmp_path / "home"), "check-dags", "--json", str(dags))
    assert ran.code == 1
    data = json.loads(ran.out)
    assert data["ok"] is False and data["rules"] == list(RULES) and data["files_checked"] == 1
    first = data["findings"][0]
    assert set(first) == {"file", "line", "column", "code", "rule", "message", "fix_available", "fix"}
    assert {(f["line"], f["code"]) for f in data["findings"]} >= {(17, "AIR301"), (22, "AIR302"), (24, "AIR301")}

    clean = write(tmp_path / "clean", {"modern.py": AIRFLOW3_DAG})
    ran = run(capsys, "--home", str(tmp_path / "home"), "check-dags", str(clean))
    assert ran.code == 0 and ran.out == "" and "nothing to change for Airflow 3" in " ".join(ran.err.split())
    ran = run(capsys, "--home", str(tmp_path / "home"), "check-dags", "--json", str(clean))
    assert ran.code == 0 and json.loads(ran.out)["findings"] == []


@pytest.mark.parametrize("target", ["nope", "file.py"])
def test_cli_bad_folder_is_one_error_line(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file.py").write_text("x = 1\n")
    ran = run(capsys, "--home", str(tmp_path / "home"), "check-dags", str(tmp_path / target))
    assert ran.code == 1 and ran.out == ""
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(tmp_path / target) in lines[0]
