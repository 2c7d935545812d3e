"""``airdeck run COMPONENT``: one component of the plan, rendered from mounted files, then exec'd.

This is the entrypoint of every Airflow and airdeck container of the Helm chart, and works the same
on one machine (``--target local``). It builds the same plan as ``airdeck up``, keeps the one
component, writes the files it needs (its ``airflow.cfg``, ``webserver_config.py``, the cluster
policies, …) with the secrets read from ``--secrets-dir`` (one file per secret, named as the secret:
``fernet_key``, ``jwt_secret``, ``api_secret_key``, ``database_url``, ``broker_url``, …), then replaces
itself with the component's process: signals reach Airflow directly and its exit code is the
container's.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from airdeck import concerns
from airdeck.auth.rbac import LiveRoles, RoleMappingError
from airdeck.auth.roles import DEFAULT_FILE as DEFAULT_ROLES_FILE
from airdeck.auth.roles import RolesFileError
from airdeck.config.masking import normalise_url
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.build import airflow_bin
from airdeck.plan.concern import SecretSource
from airdeck.plan.endpoints import Target
from airdeck.plan.model import Component, Deployment, FileSpec
from airdeck.plan.render import materialise
from airdeck.plan.secrets import MissingSecretError, SecretResolver
from airdeck.run.canary import Canary, SignInCheck
from airdeck.run.pooler import CONNECT_ARGS_PATH, parse_address, via_pooler
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private

TARGETS = ("local", "kubernetes")

#: One-off jobs of a deployment (not components): the chart's migration Job, the init container every
#: Airflow pod waits in until the schema is current, and the `helm test` canary.
JOBS = ("migrate", "wait-for-migrations", "canary")

#: What ``--probe`` runs inside a component's container, per probe kind of the plan (HTTP probes
#: are the chart's own httpGet probes and need no command).
HEARTBEAT_JOBS = {"dag_processor": "DagProcessorJob", "triggerer": "TriggererJob", "scheduler": "SchedulerJob"}


class RunError(AirdeckError):
    exit_code = 2


#: The largest secret file read (the biggest platform secret, an RSA private key in PEM, is a few KiB).
MAX_SECRET_BYTES = 1 << 20

_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFLNK: "a symbolic link"}


def read_mounted(folder: Path, name: str) -> str:
    """A mounted secret file; KeyError when absent.

    The file may be a symbolic link to a file inside ``folder`` (Kubernetes mounts a Secret as
    ``NAME -> ..data/NAME``, ``..data -> ..2024_01_01_…/``); the target is opened without following
    any further link and without blocking, and checked on the opened descriptor: a regular file, not
    readable by others (o+r), at most :data:`MAX_SECRET_BYTES`, UTF-8 text, not empty."""
    path = folder / name
    if not os.path.lexists(path):
        raise KeyError(name)
    fix = "mount each secret as a file of --secrets-dir (a Kubernetes Secret volume, or a 0600/0400 file)"
    try:
        root = folder.resolve(strict=True)
        target = path.resolve(strict=True)
    except FileNotFoundError:
        raise RunError(f"{path} is a symbolic link to a file that does not exist; {fix}") from None
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError (Python 3.11) or ELOOP
        raise RunError(f"{path} cannot be followed ({getattr(exc, 'strerror', None) or exc}: a symbolic link loop?); "
                       f"{fix}") from None
    if not target.is_relative_to(root) or target == root:
        raise RunError(f"{path} is a symbolic link that leaves {folder}; a secret's link may point only to a file "
                       f"inside the folder (as Kubernetes' ..data/ links do); {fix}")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except PermissionError:
        raise RunError(f"{path} cannot be read by this user (uid {os.getuid()}); mount it with defaultMode 0440 "
                       "and the pod's fsGroup, or make it the user's own 0400 file") from None
    except OSError as exc:
        raise RunError(f"{path} cannot be opened ({exc.strerror or exc}); {fix}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise RunError(f"{path} is {kind}, not a file; {fix}")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o007:
            raise RunError(f"{path} has mode {mode:04o}; a secret file must not be readable by others "
                           "(mount it with defaultMode 0400 or 0440)")
        if info.st_size > MAX_SECRET_BYTES:
            raise RunError(f"{path} holds {info.st_size} bytes, more than any secret ({MAX_SECRET_BYTES} at most); "
                           f"check that the right file is mounted as {name!r}")
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(MAX_SECRET_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET_BYTES:
        raise RunError(f"{path} holds more than {MAX_SECRET_BYTES} bytes, more than any secret; "
                       f"check that the right file is mounted as {name!r}")
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise RunError(f"{path} is not UTF-8 text (byte {exc.start}); a secret file holds the secret as text "
                       "(a Kubernetes Secret's data is decoded from base64 before it is mounted)") from None
    if not value:
        raise RunError(f"{path} is empty; the secret {name!r} must hold a value")
    return value


def _external_only(sources: Mapping[str, SecretSource]) -> dict[str, SecretSource]:
    """On Kubernetes there is no embedded server: the URLs come from airdeck.yaml or a mounted file."""
    out = dict(sources)
    for name, key in (("database_url", "database"), ("broker_url", "broker")):
        derive = sources[name]

        def external(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str],
                     derive: SecretSource = derive, name: str = name, key: str = key) -> str:
            if getattr(cfg, key).url is None:
                raise MissingSecretError(f"{name}: set {key}.url in airdeck.yaml or mount the secret file "
                                         f"{name} (there is no embedded {key} on Kubernetes)")
            return derive(cfg, home, lookup)

        out[name] = external
    return out


def resolver_for(cfg: AirdeckConfig, home: AirdeckHome, target: Target, secrets_dir: Path | None,
                 database_pooler: str | None = None) -> SecretResolver:
    """``database_pooler`` (HOST:PORT): the mounted database URL is used through PgBouncer there."""
    store = concerns.local_store(cfg, home)
    if secrets_dir is None:
        if database_pooler is not None:
            raise RunError("--database-pooler needs --secrets-dir: the database URL through PgBouncer is the "
                           "mounted one")
        return concerns.resolver(cfg, home, store, generate=target.kind == "local")
    folder = secrets_dir

    def base(name: str) -> str:
        try:
            value = read_mounted(folder, name)
            # A mounted URL's credentials run to its last "@" (airdeck.config.masking), as in airdeck.yaml.
            if name == "database_url" and database_pooler is not None:
                return via_pooler(normalise_url(value), database_pooler)
            return normalise_url(value) if name in ("database_url", "broker_url") else value
        except KeyError:
            if type(store).__name__ == "VaultSecretStore" and name in ("fernet_key", "jwt_secret", "api_secret_key"):
                return store.get(name)  # secrets.vault.platform_secrets: read from Vault
            raise

    sources = concerns.secret_sources()
    if target.kind == "kubernetes":
        sources = _external_only(sources)
    return SecretResolver(cfg, home, base, sources, where=str(folder), generates=False)


def select(deployment: Deployment, name: str) -> Component:
    try:
        return deployment.component(name)
    except KeyError:
        raise RunError(f"unknown component {name!r} for this target; components: "
                       f"{', '.join(deployment.names())}; jobs: {', '.join(JOBS)}") from None


def _target(target: str, release: str | None) -> Target:
    if target not in TARGETS:
        raise RunError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    return Target.kubernetes(release or "airdeck") if target == "kubernetes" else Target.local()


#: Mounted secrets a process reads from ``$AIRDECK_HOME/secrets`` itself. Only these are copied there:
#: any other mounted secret reaches a process only through the 0600 files of its own plan.
MIRRORED = ("admin_password",)


def mirror_mounted(secrets_dir: Path, home: AirdeckHome) -> None:
    """Copy the mounted platform secrets that processes read from the state folder themselves (the
    alert dispatcher reads ``admin_password`` afresh at every call) into ``$AIRDECK_HOME/secrets`` as
    0600 files: a mounted Secret is group-readable (0440 under fsGroup), a state file is private."""
    if secrets_dir.resolve() == home.secrets.resolve():
        return
    for name in MIRRORED:
        try:
            value = read_mounted(secrets_dir, name)
        except KeyError:
            continue
        write_private(home.secrets / name, value)


def files_of(deployment: Deployment, home: AirdeckHome, name: str) -> tuple[Component, list[FileSpec]]:
    """Component (or job) ``name`` and every file ``airdeck run`` writes for it."""
    if name in JOBS and deployment.cli is not None:
        component = deployment.cli
    else:
        component = select(deployment, name)
    specs: list[FileSpec] = [*deployment.files, *component.files]
    if deployment.cli is not None and component.env.get("AIRFLOW_CONFIG") != str(home.service_config(name)):
        specs += deployment.cli.files  # components that use the one-off commands' configuration
    return component, specs


#: The only secret the `helm test` canary reads: it signs in to the REST API as the admin account.
CANARY_SECRETS = frozenset({"admin_password"})
#: With ``--sign-in-as``: the password of the user whose permissions the canary checks (tests.signIn).
CANARY_PASSWORD = "canary_password"  # noqa: S105 - a file name, not a secret


def secrets_needed(deployment: Deployment, home: AirdeckHome, name: str) -> set[str]:
    """The secrets ``airdeck run NAME`` resolves: what its container must have mounted."""
    if name == "canary":
        return set(CANARY_SECRETS)
    component, specs = files_of(deployment, home, name)
    names = {ref.name for spec in specs for ref in spec.secrets}
    if component.probe is not None and component.probe.secret is not None:
        names.add(component.probe.secret.name)
    return names


def pooler_env(database_pooler: str | None) -> dict[str, str]:
    """Airflow's environment behind PgBouncer: psycopg without server-side prepared statements."""
    if database_pooler is None:
        return {}
    parse_address(database_pooler)
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": CONNECT_ARGS_PATH}


def prepare(cfg: AirdeckConfig, home: AirdeckHome, name: str, *, target: str = "local", release: str | None = None,
            secrets_dir: Path | None = None, database_pooler: str | None = None
            ) -> tuple[Component, dict[str, str]]:
    """Render everything component ``name`` needs; returns it and the environment to exec it with.

    ``name`` may also be one of :data:`JOBS`: they run with the one-off commands' configuration.
    ``database_pooler`` (HOST:PORT of PgBouncer): the database is reached through it."""
    if database_pooler is not None and name == "migrate":
        raise RunError("the migration Job reaches the database directly (its session-level advisory lock does "
                       "not survive transaction pooling); run it without --database-pooler")
    where = _target(target, release)
    deployment = concerns.plan(cfg, home, where)
    component, specs = files_of(deployment, home, name)
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise RunError(f"--secrets-dir {secrets_dir} is not a folder")
    resolve = resolver_for(cfg, home, where, secrets_dir, database_pooler)
    for directory in (home.logs, home.task_logs):
        directory.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        materialise(spec, resolve)
    if secrets_dir is not None:
        mirror_mounted(secrets_dir, home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(component.env)
    env.update(pooler_env(database_pooler))
    return component, env


def _exec(name: str, argv: list[str], env: Mapping[str, str], directory: str | None = None) -> int:
    if directory:
        os.chdir(directory)
    try:
        os.execvpe(argv[0], argv, dict(env))
    except OSError as exc:
        raise RunError(f"cannot start {name}: {argv[0]}: {exc.strerror or exc}") from None
    return 1  # not reached: exec replaced this process


def probe_argv(component: Component) -> list[str] | None:
    """The command that tells whether this container's process is alive, from the plan's probe:
    ``airflow jobs check --local`` for a heartbeat, a Celery ping of this worker's node. None for
    components the chart probes over HTTP."""
    probe = component.probe
    if probe is None:
        return None
    airflow = airflow_bin()
    if probe.kind == "heartbeat" and probe.detail in HEARTBEAT_JOBS:
        return [airflow, "jobs", "check", "--job-type", HEARTBEAT_JOBS[probe.detail], "--local", "--limit", "1"]
    if probe.kind == "celery-ping":
        node = probe.detail.replace("%h", socket.gethostname())
        celery = str(Path(sys.executable).parent / "celery")
        return [celery, "--app", "airflow.providers.celery.executors.celery_executor.app", "inspect", "ping",
                "--destination", node, "--timeout", "20"]
    return None


def with_mounted_ldap_files(cfg: AirdeckConfig, secrets_dir: Path | None) -> AirdeckConfig:
    """``auth.ldap.bind_password_file`` and ``ca_file`` given as relative paths name files of the mounted
    secrets (``--secrets-dir``): the chart mounts the directory's password and CA there (auth.ldap.* of
    its values) and writes their names into airdeck.yaml, so where the volume is mounted is said once."""
    ldap = cfg.auth.ldap
    if ldap is None or secrets_dir is None:
        return cfg
    update = {key: secrets_dir.absolute() / value for key in ("bind_password_file", "ca_file")
              if (value := getattr(ldap, key)) is not None and not value.is_absolute()}
    if not update:
        return cfg
    auth = cfg.auth.model_copy(update={"ldap": ldap.model_copy(update=update)})
    return cfg.model_copy(update={"auth": auth})


def run_component(cfg: AirdeckConfig, home: AirdeckHome, name: str, *, target: str = "local",
                  release: str | None = None, secrets_dir: Path | None = None, probe: bool = False,
                  migration_wait: int = 600, dag: str = "example_fanout", timeout: float = 600.0,
                  database_pooler: str | None = None, sync_roles: bool = False, roles_file: Path | None = None,
                  sign_in_as: str | None = None, allowed: list[str] | None = None,
                  denied: list[str] | None = None) -> int:
    """Render component (or job) ``name`` and replace this process with it (returns only if exec fails).

    ``probe``: instead of starting it, check the running component of this container (its files are
    already written) and exit 0 when it is alive."""
    cfg = with_mounted_ldap_files(cfg, secrets_dir)
    if probe:
        if name in JOBS:
            raise RunError(f"--probe checks a component, not the job {name!r}")
        deployment = concerns.plan(cfg, home, _target(target, release))
        component = select(deployment, name)
        argv = probe_argv(component)
        if argv is None:
            raise RunError(f"{name} is probed over HTTP ({component.probe.kind if component.probe else 'no probe'}); "
                           "it has no probe command")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        env.update(component.env)
        env.update(pooler_env(database_pooler))
        return _exec(f"the probe of {name}", argv, env)
    if name == "canary":
        # A client of the REST API only: it signs in as the admin account and renders no Airflow
        # configuration, so it holds no Fernet key, database or broker URL (CANARY_SECRETS).
        if secrets_dir is None:
            raise RunError("the canary signs in as the admin account: pass --secrets-dir holding admin_password")
        check = None
        if sign_in_as:
            try:
                check = SignInCheck(sign_in_as, read_mounted(secrets_dir, CANARY_PASSWORD), list(allowed or []),
                                    list(denied or []))
            except KeyError:
                raise RunError(f"no {CANARY_PASSWORD} in {secrets_dir}: mount the password of {sign_in_as} "
                               "(tests.signIn.passwordSecret)") from None
        password = ""
        if dag:
            try:
                password = read_mounted(secrets_dir, "admin_password")
            except KeyError:
                raise RunError(f"no admin_password in {secrets_dir}: mount the admin account's password for the "
                               "canary") from None
        return Canary.from_plan(cfg, home, _target(target, release), password, dag, None, timeout, check).run()
    component, env = prepare(cfg, home, name, target=target, release=release, secrets_dir=secrets_dir,
                             database_pooler=database_pooler)
    if name == "migrate":
        # Nothing starts half-way: the Airflow pods wait for this Job's migration, and it runs only once
        # the Fernet key, the task log destination and the like have passed their checks.
        check_before_airflow(cfg, home, env, target=target, release=release, secrets_dir=secrets_dir)
        code = migrate(cfg, env, secrets_dir)
        if code != 0 or not sync_roles:
            return code
        return sync_roles_file(cfg, home, env, roles_file or DEFAULT_ROLES_FILE)
    if name == "wait-for-migrations":
        return _exec(name, [airflow_bin(), "db", "check-migrations", "--migration-wait-timeout",
                            str(migration_wait)], env)
    return _exec(name, list(component.argv), env, component.directory)


class ContainerRuntime:
    """The :class:`~airdeck.plan.concern.Runtime` of a one-off job in a container: the concerns' checks
    run against the mounted configuration and secrets; restarting components is the cluster's job."""

    def __init__(self, cfg: AirdeckConfig, home: AirdeckHome, deployment: Deployment, resolve: SecretResolver,
                 env: Mapping[str, str]):
        self.cfg = cfg
        self.home = home
        self.secrets = concerns.local_store(cfg, home)
        self._deployment = deployment
        self._resolve = resolve
        self._env = dict(env)

    @property
    def deployment(self) -> Deployment:
        return self._deployment

    def secret(self, name: str) -> str:
        return self._resolve(name)

    def say(self, message: str) -> None:
        print(f"✓ {message}", file=sys.stderr, flush=True)

    def airflow_cli(self, *args: str) -> tuple[int, str]:
        done = subprocess.run([airflow_bin(), *args], env=self._env, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr

    def airflow_components(self) -> list[str]:
        return [c.name for c in self._deployment.components if c.airflow]

    def restart(self, components: list[str]) -> None:
        raise RunError("components are restarted by the cluster (e.g. kubectl rollout restart), not from a job")


def check_before_airflow(cfg: AirdeckConfig, home: AirdeckHome, env: Mapping[str, str], *, target: str,
                         release: str | None, secrets_dir: Path | None) -> None:
    """The concerns' ``before_airflow`` checks (the Fernet key fits the stored values, the task log
    destination is writable, the DAG repositories answer), as ``airdeck up`` runs them locally."""
    where = _target(target, release)
    runtime = ContainerRuntime(cfg, home, concerns.plan(cfg, home, where),
                               resolver_for(cfg, home, where, secrets_dir), env)
    for check in concerns.preflight("before_airflow"):
        check(runtime)


class _JobPlatform:
    """What :class:`~airdeck.auth.rbac.LiveRoles` needs of a platform: its home (with the rendered `cli`
    configuration) and the environment of one-off Airflow commands."""

    def __init__(self, home: AirdeckHome, env: Mapping[str, str]):
        self.home = home
        self._env = dict(env)

    def cli_env(self) -> dict[str, str]:
        return dict(self._env)


def sync_roles_file(cfg: AirdeckConfig, home: AirdeckHome, env: Mapping[str, str], roles_file: Path) -> int:
    """``airdeck rbac sync`` in the migration Job, after the migration: the roles file applied, and the
    Job failed (changing nothing) when the file is invalid or auth.ldap.roles_mapping names a role that
    would not exist; `helm upgrade --wait` (and Terraform) then report the release as failed."""
    ldap = cfg.auth.ldap if cfg.auth.mode == "ldap" else None
    try:
        changes = LiveRoles(_JobPlatform(home, env)).sync(roles_file, ldap=ldap)
    except RolesFileError as exc:
        print(f"{exc.render()}\nnothing was changed; fix the chart's auth.roles (roles.yaml)", file=sys.stderr)
        return exc.exit_code
    except RoleMappingError as exc:
        print(f"{exc.render()}\nnothing was changed; fix airdeck.auth.ldap.roles_mapping or declare the role in the "
              "chart's auth.roles (roles.yaml)", file=sys.stderr)
        return exc.exit_code
    except AirdeckError as exc:
        print(f"roles sync failed: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        for line in change.lines():
            print(line)
    done = f"{len(changes)} role(s) changed" if changes else "already in sync"
    print(f"roles: {done}; the live roles match {roles_file}")
    return 0


def migrate(cfg: AirdeckConfig, env: Mapping[str, str], secrets_dir: Path | None) -> int:
    """The migration Job: ``airflow db migrate`` (a no-op when current), then the admin account when
    its password is mounted (created once; never changed here)."""
    done = subprocess.run([airflow_bin(), "db", "migrate"], env=dict(env), check=False)
    if done.returncode != 0:
        print(f"airflow db migrate failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    if secrets_dir is None:
        return 0
    try:
        password = read_mounted(secrets_dir, "admin_password")
    except KeyError:
        print(f"no admin_password in {secrets_dir}: no admin account created (sign in through LDAP)",
              file=sys.stderr)
        return 0
    admin = cfg.admin
    made = subprocess.run([sys.executable, "-m", "airdeck.stack.admin_user", admin.username, admin.email,
                           admin.first_name, admin.last_name], input=password, env=dict(env), text=True,
                          capture_output=True, check=False)
    if made.returncode != 0:
        print(f"could not create the admin account {admin.username}: {made.stderr.strip()[-1500:]}",
              file=sys.stderr)
        return made.returncode
    lines = made.stdout.strip().splitlines()
    print(f"admin account {admin.username}: {lines[-1] if lines else 'done'}")
    return 0
