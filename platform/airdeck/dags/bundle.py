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
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.dag_processing.bundles.base import BaseDagBundle
from airflow.providers.git.bundles.git import GitDagBundle
from git import Repo
from git.exc import GitError

from airdeck.dags import diagnose, store

log = logging.getLogger("airdeck.dags")

_tables_ready = False


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

    # ------------------------------------------------------------------ the last good version
    def _fetch_bare_repo(self) -> None:
        # A worker checking out a version the local clone already has needs no fetch; the provider
        # fetches anyway and, when the repository is unreachable, deletes the shared clone.
        if self.version is not None and self._has_version(self.bare_repo, self.version):
            return
        super()._fetch_bare_repo()

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

