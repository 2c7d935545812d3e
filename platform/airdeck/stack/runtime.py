"""The workers' own interpreter: a copy of the base Python they can reach when the original sits in a
folder other users cannot search (pyenv's or uv's Python under ``/root``, mode 0700).

``$AIRDECK_HOME/runtime/`` holds ``python-X.Y.Z/`` (the base interpreter's ``bin/pythonX.Y``, its
``libpython`` and its standard library, without ``site-packages`` and ``test``: hard links when on the
same filesystem, else copies) and ``venv/``, a virtual environment on that interpreter whose one ``.pth``
file adds the real environment's site-packages (and so, through its own ``.pth`` files, airdeck's
editable install). The workers run ``venv/bin/python -m airflow celery worker`` with ``LD_LIBRARY_PATH``
on the copy's ``lib`` (it wins over the interpreter's RUNPATH). Everything is owned by root and read-only
for others. A stamp (the base interpreter's path, size and modification time, and the environment's
site-packages) says when to rebuild; a rebuild happens in a temporary folder renamed into place. Before
the workers start, the worker user itself imports the standard library, airdeck and finds Airflow with
it, so a copy that cannot work stops ``airdeck up`` with what to do instead.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from airdeck.plan.build import runtime_name
from airdeck.stack.errors import StackError
from airdeck.state.childenv import child_env

STAMP = "stamp.json"
#: What the worker user runs to prove the runtime works: the standard library (and its C modules),
#: airdeck's code and the environment's packages are all found, and the libpython loaded is the copy's
#: (without LD_LIBRARY_PATH the loader may take another Python's, e.g. Debian's 3.11.2, instead).
CHECK = ("import sys, ssl, sqlite3, json, airdeck, importlib.util as u; "
         "assert u.find_spec('airflow') and u.find_spec('celery'), 'airflow or celery not found'; "
         "assert sys.version_info[:3] == ({}, {}, {}), 'another libpython: ' + sys.version.split()[0]"
         ).format(*sys.version_info[:3])


def _stamp() -> dict[str, object]:
    executable = Path(sys.base_prefix) / "bin" / "python{}.{}".format(*sys.version_info[:2])
    info = executable.stat()
    return {"executable": str(executable), "size": info.st_size, "mtime_ns": info.st_mtime_ns,
            "site_packages": sysconfig.get_path("purelib"), "version": runtime_name()}


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _copy_tree(source: Path, target: Path, skip: tuple[str, ...] = ()) -> None:
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy,
                    ignore=lambda folder, names: [n for n in names if Path(folder) == source and n in skip])


def _build(folder: Path, final: Path, stamp: dict[str, object]) -> None:
    """The runtime in ``folder``, pointing at where it will be: ``final``."""
    base = Path(sys.base_prefix)
    short = "python{}.{}".format(*sys.version_info[:2])
    prefix = folder / runtime_name()
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    _link_or_copy(str(Path(str(stamp["executable"])).resolve()), str(prefix / "bin" / short))
    for library in sorted((base / "lib").glob(f"lib{short}*.so*")):
        _link_or_copy(str(library), str(prefix / "lib" / library.name))
    _copy_tree(base / "lib" / short, prefix / "lib" / short, skip=("site-packages", "test"))
    (prefix / "lib" / short / "site-packages").mkdir()
    venv = folder / "venv"
    site = venv / "lib" / short / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(final / runtime_name() / "bin" / short)
    (venv / "pyvenv.cfg").write_text(f"home = {final / runtime_name() / 'bin'}\ninclude-system-site-packages = false\n"
                                     "version = {}.{}.{}\n".format(*sys.version_info[:3]), encoding="utf-8")
    (site / "_airdeck_environment.pth").write_text(
        f"import site; site.addsitedir({str(stamp['site_packages'])!r})\n", encoding="utf-8")
    (folder / STAMP).write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")
    for root, dirs, _files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)  # noqa: S103 - others must reach the interpreter; nothing secret
    for path in (venv / "pyvenv.cfg", site / "_airdeck_environment.pth", folder / STAMP):
        path.chmod(0o644)
    folder.chmod(0o755)


def ensure(folder: Path) -> bool:
    """The runtime in ``folder``, built when missing or when the interpreter changed; True if (re)built."""
    stamp = _stamp()
    try:
        if json.loads((folder / STAMP).read_text(encoding="utf-8")) == stamp:
            return False
    except (OSError, ValueError):
        pass
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".runtime-", dir=folder.parent))
    try:
        _build(building, folder, stamp)
        if folder.exists():  # running workers keep their open files; the old folder goes after the swap
            old = Path(tempfile.mkdtemp(prefix=".runtime-old-", dir=folder.parent))
            folder.rename(old / "runtime")
            building.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            building.rename(folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return True


def check(folder: Path, user: pwd.struct_passwd) -> None:
    """Run the runtime as ``user``; a StackError saying what to do when it cannot work."""
    python = folder / "venv" / "bin" / "python"
    env = child_env(extra={"LD_LIBRARY_PATH": str(folder / runtime_name() / "lib"), "HOME": "/"})
    try:
        result = subprocess.run([str(python), "-I", "-c", CHECK], capture_output=True, text=True, check=False,
                                env=env, user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                                timeout=120)
        problem = result.stderr.strip().splitlines()[-1:] if result.returncode else []
    except (OSError, subprocess.SubprocessError) as error:
        problem = [str(error)]
    if problem:
        raise StackError(
            f"the workers' own interpreter ({folder}, a copy of {sys.base_prefix} for the user {user.pw_name!r}) "
            f"does not start as that user: {problem[0]}. Make the interpreter reachable instead "
            f"(`chmod o+x` the folders on the way to {sys.base_prefix}, search only) and run airdeck up again. "
            "Nothing was started.")
