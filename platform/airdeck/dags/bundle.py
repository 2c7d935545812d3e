"""airdeck's git DAG bundle: Airflow's ``GitDagBundle`` that records every fetch and keeps serving.

``[dag_processor] dag_bundle_config_list`` names this class for each git bundle of airdeck.yaml. It
changes three things; the first two only for the dag-processor's tracking copy (``version is None``):

* after each fetch it records the version or the error (one line naming the bundle, without secrets)
  in the platform's database (:mod:`airdeck.dags.store`), for `airdeck dags status`, `airdeck status`
  and import-error alerts;
* when the dag-processor restarts while the repository is unreachable, the provider's ``initialize``
  fails (and deletes its bare clone), so the bundle would serve nothing until the repository is back.
  When a complete local copy of the same repository exists, this class starts from it instead and
  only tries to fetch: the last fetched version keeps serving;
* a worker that checks out a version the local clone already has does not fetch (the provider would,
  and on an unreachable repository it deletes the clone the dag-processor serves from).

Workers that run as their own user (``airdeck up`` as root) keep their own clones, which the
dag-processor never reads. For them the dag-processor publishes what it fetched into a read-only copy
per bundle under ``$AIRDECK_DAG_BUNDLE_MIRRORS`` (``$AIRDECK_HOME/dag-bundle-mirrors``: root's, the
workers' group may read, nobody else may write; see :mod:`airdeck.stack.workers`), and a worker takes
the version a run needs from there before it asks the repository: a run started while the repository
is unreachable runs the last fetched version, as on the dag-processor.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from airflow.dag_processing.bundles.base import BaseDagBundle
from airflow.providers.git.bundles.git import GitDagBundle
from git import Git, Repo
from git.exc import GitError

from airdeck.dags import diagnose, store
from airdeck.state.home import DAG_BUNDLE_MIRRORS_ENV

log = logging.getLogger("airdeck.dags")

_tables_ready = False

#: Every branch and tag, as the provider fetches them into its bare clone.
REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def _engine() -> Any:
    """Airflow's own engine in the dag-processor (None where Airflow has no database access)."""
    from airflow import settings

    return getattr(settings, "engine", None)


class MissingConnectionError(RuntimeError):
    """The bundle names a git connection that Airflow cannot find."""


class GitBundle(GitDagBundle):
    """A git bundle whose fetches are recorded and whose last fetched version survives an outage."""

    def __init__(self, *, git_conn_id: str | None = None, repo_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(git_conn_id=git_conn_id, repo_url=repo_url, **kwargs)
        self.git_conn_id = git_conn_id  # None: anonymous (the provider would fall back to git_default)
        # The provider quietly goes anonymous when a named connection is missing and a URL is given;
        # a private repository then fails with a misleading "could not read Username".
        self._missing_connection = bool(git_conn_id) and self.hook is None

    # ------------------------------------------------------------------ what the dag-processor calls
    def initialize(self) -> None:
        if self.version is not None:
            super().initialize()
            return
        try:
            self._check_connection()
            if self._local_copy_usable():
                self._initialize_from_local_copy()
                return
            super().initialize()
        except Exception as exc:
            self._record_failure(exc)
            raise
        self._record_success()
        self._publish_for_workers()

    def refresh(self) -> None:
        if self.version is not None:
            super().refresh()
            return
        try:
            self._check_connection()
            super().refresh()
        except Exception as exc:
            self._record_failure(exc)
            raise
        self._record_success()
        self._publish_for_workers()

    # ------------------------------------------------------------------ the last good version
    def _fetch_bare_repo(self) -> None:
        # A worker checking out a version the local clone already has needs no fetch; the provider
        # fetches anyway and, when the repository is unreachable, deletes the shared clone.
        if self.version is not None and self._has_version(self.bare_repo, self.version):
            return
        # A worker with clones of its own takes the version from the dag-processor's read-only copy.
        if self.version is not None and self._fetch_from_mirror() \
                and self._has_version(self.bare_repo, self.version):
            return
        super()._fetch_bare_repo()

    def _clone_bare_repo_if_required(self) -> None:
        # The provider's first clone asks the repository; a worker whose version is in the read-only copy
        # starts an empty clone of the repository instead, then fetches from the copy (_fetch_bare_repo).
        if self.version is not None and not self.bare_repo_path.exists() and self._mirror_has(self.version):
            Git().init("--bare", "--quiet", str(self.bare_repo_path))
            repo = Repo(self.bare_repo_path)
            try:
                repo.create_remote("origin", str(self.repo_url))
            finally:
                repo.close()
        super()._clone_bare_repo_if_required()

    def _local_copy_usable(self) -> bool:
        """A bare clone of the same URL and a tracking checkout with a commit exist on disk."""
        if not (self.bare_repo_path / "HEAD").exists() or not (self.repo_path / ".git").exists():
            return False
        try:
            bare = Repo(self.bare_repo_path)
            try:
                same_url = "origin" in bare.remotes and bare.remotes.origin.url == str(self.repo_url)
            finally:
                bare.close()
            tracking = Repo(self.repo_path)
            try:
                tracking.head.commit  # noqa: B018 - raises when the checkout has no commit
                # the branch was fetched before (a checkout left by a wrong branch is not "good")
                names = {ref.name for ref in tracking.refs}
                fetched = f"origin/{self.tracking_ref}" in names or self.tracking_ref in {t.name for t in tracking.tags}
            finally:
                tracking.close()
        except (GitError, ValueError, OSError):
            return False
        return same_url and fetched

    def _initialize_from_local_copy(self) -> None:
        with self.lock():
            self.bare_repo = Repo(self.bare_repo_path)
            self.repo = Repo(self.repo_path)
            BaseDagBundle.initialize(self)
        log.info("bundle %s: starting from the local copy at %s", self.name, self._head())
        try:
            self.refresh()  # records success or failure itself
        except Exception:  # noqa: BLE001 - the last fetched version keeps serving; the error is recorded
            log.warning("bundle %s: fetch failed; serving the last fetched version %s", self.name, self._head())
            self._publish_for_workers()

    # ------------------------------------------------------------------ the workers' read-only copy
    def _mirror(self) -> Path | None:
        """This bundle's read-only copy for workers with clones of their own; None when there is none."""
        root = os.environ.get(DAG_BUNDLE_MIRRORS_ENV)
        return Path(os.path.realpath(root)) / self.name if root else None

    def _publish_for_workers(self) -> None:
        """The dag-processor: bring the workers' read-only copy up to its bare clone (branches and tags).

        The copy is created group-readable (``git init --shared=0640``) in a folder that must be this
        user's and writable by nobody else; a failure is logged, never raised (serving DAGs goes on)."""
        mirror = self._mirror()
        if mirror is None or not (self.bare_repo_path / "HEAD").exists():
            return
        problem = _unsafe_folder(mirror.parent)
        if problem:
            log.warning("bundle %s: the workers' copy is not updated: %s", self.name, problem)
            return
        try:
            if not (mirror / "HEAD").exists():
                Git(str(mirror.parent)).init("--bare", "--quiet", "--shared=0640", str(mirror))
            repo = Repo(mirror)
            try:
                repo.git.fetch("--quiet", "--no-write-fetch-head", str(self.bare_repo_path), *REFSPECS)
            finally:
                repo.close()
        except (GitError, OSError) as exc:
            log.warning("bundle %s: could not update the workers' copy in %s: %s", self.name, mirror,
                        diagnose.redact(str(exc), self._secrets()))

    def _mirror_has(self, version: str) -> bool:
        mirror = self._mirror()
        if mirror is None or not (mirror / "HEAD").exists():
            return False
        try:
            repo = Repo(mirror)
        except (GitError, OSError):
            return False
        try:
            return self._has_version(repo, version)
        except (GitError, OSError):
            return False
        finally:
            repo.close()

    def _fetch_from_mirror(self) -> bool:
        """A worker: fetch every branch and tag of the read-only copy into its own bare clone.

        The copy belongs to another user, which git refuses ("dubious ownership") unless the copy is
        named in ``safe.directory`` of a protected configuration: a global file of this bundle's storage,
        for this command only."""
        mirror = self._mirror()
        if mirror is None or not (mirror / "HEAD").exists():
            return False
        trust = self.base_dir / "mirror.gitconfig"
        try:
            trust.write_text('[safe]\n\tdirectory = "{}"\n'.format(str(mirror).replace("\\", "\\\\")
                                                                   .replace('"', '\\"')), encoding="utf-8")
            self.bare_repo.git.fetch("--quiet", str(mirror), *REFSPECS, env={"GIT_CONFIG_GLOBAL": str(trust)})
        except (GitError, OSError) as exc:
            log.warning("bundle %s: could not fetch from the dag-processor's copy %s: %s", self.name, mirror,
                        diagnose.redact(str(exc), self._secrets()))
            return False
        log.info("bundle %s: version %s taken from the dag-processor's copy", self.name, self.version)
        return True

    # ------------------------------------------------------------------ recording
    def _check_connection(self) -> None:
        """Read the connection afresh (created after start, or a rotated token, is picked up)."""
        if not self.git_conn_id:
            return
        from airflow.providers.git.hooks.git import GitHook

        try:
            self.hook = GitHook(git_conn_id=self.git_conn_id, repo_url=self.repo_url)
        except Exception as exc:  # noqa: BLE001 - any failure to read it means it cannot be used
            self._missing_connection = True
            raise MissingConnectionError(f"The conn_id `{self.git_conn_id}` isn't defined") from exc
        self._missing_connection = False

    def _secrets(self) -> list[str | None]:
        hook = self.hook
        if hook is None:
            return []
        return [getattr(hook, "auth_token", None), getattr(hook, "private_key_passphrase", None)]

    def _head(self) -> str | None:
        try:
            repo = Repo(self.repo_path)
            try:
                return str(repo.head.commit.hexsha)
            finally:
                repo.close()
        except (GitError, ValueError, OSError):
            return None

    def describe(self, error: BaseException) -> str:
        return diagnose.describe(self.name, str(self.repo_url or ""), self.tracking_ref, error, self._secrets())

    def _record(self, write: Any) -> None:
        global _tables_ready
        engine = _engine()
        if engine is None:
            return
        try:
            if not _tables_ready:
                store.create(engine)
                _tables_ready = True
            write(engine)
        except Exception as exc:  # noqa: BLE001 - recording must never stop DAG delivery
            log.warning("bundle %s: could not record its status: %s", self.name, type(exc).__name__)

    def _record_success(self) -> None:
        version = self._head()
        self._record(lambda engine: store.record_success(engine, self.name, version))

    def _record_failure(self, error: BaseException) -> None:
        message = self.describe(error)
        log.error("%s", message)
        self._record(lambda engine: store.record_failure(engine, self.name, message))


def _unsafe_folder(folder: Path) -> str | None:
    """Why ``folder`` must not receive the workers' copies (a link, someone else's, writable by others)."""
    try:
        info = os.lstat(folder)
    except OSError as exc:
        return f"{folder}: {exc.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder"
    if info.st_uid != os.geteuid():
        return f"{folder} belongs to uid {info.st_uid}, not to this user"
    if info.st_mode & 0o022:
        return f"{folder} is writable by others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
