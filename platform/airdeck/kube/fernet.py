"""``airdeck --target kubernetes fernet rotate``: the Fernet key of a Helm release rotated through the
Kubernetes API, in order and resumable.

1. adding: a new key goes in front of the Secret's key list (``new,old``), in the same request as the
   rotation state (an annotation on that Secret), so an interruption is always resumed, never lost;
2. every workload that mounts the key restarts (``kubectl rollout restart``) and rolls out;
3. added: ``airflow rotate-fernet-key`` runs once, inside an api-server container, which then checks
   that every stored value decrypts with the new key alone (reencrypted);
4. the old keys are dropped from the Secret, the workloads restart again, the annotation is removed.

airdeck writes a Secret the chart generated (``secrets.generate``: labelled with the release), or one labelled
with the release and ``airdeck.io/rotated-by: airdeck`` (:data:`ROTATED_BY`): the Fernet key's Secret that
``terraform/modules/airdeck`` writes once and then leaves to this command (its ``ignore_changes``). Any other
Secret of yours (``existingSecret``, which whatever manages it would set back), one made by External Secrets from
your store, or a key held in Vault is refused with what to do instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet

from airdeck.kube.release import COMPONENT, INSTANCE, Exec, KubeError, Release, mounted_secrets, run_args
from airdeck.secrets.fernet import fingerprint, split_keys

#: The annotation holding the state of an unfinished rotation, on the key's Secret.
STATE = "airdeck.io/fernet-rotation"

#: The label (name, value) by which a Secret that the chart did not generate is handed to this command: the
#: Terraform module renders it on the Fernet key's Secret (terraform/modules/helm-values, secret_labels).
ROTATED_BY = ("airdeck.io/rotated-by", "airdeck")

#: Seconds one workload may take to roll out.
ROLLOUT_TIMEOUT = 900.0


def _key_secret(rel: Release) -> tuple[str, str, list[tuple[str, str]]]:
    """(Secret name, key, workloads mounting it as (kind, name))."""
    where: tuple[str, str] | None = None
    users: list[tuple[str, str]] = []
    for kind, obj in rel.workloads():
        found = mounted_secrets(obj.spec.template.spec).get("fernet_key")
        if found is not None:
            where = where or found
            users.append((kind, obj.metadata.name))
    if where is None:
        raise KubeError(f"no workload of {rel.where} mounts a fernet_key: the key is held in Vault "
                        "(secrets.vault.platform_secrets); rotate it where Vault is reachable with `airdeck fernet "
                        "rotate --vault-token-file FILE`, then restart the release's pods")
    return where[0], where[1], users


def _refuse_foreign(rel: Release, secret: Any, name: str) -> None:
    labels = secret.metadata.labels or {}
    owners = [o.kind for o in (secret.metadata.owner_references or [])]
    if "ExternalSecret" in owners:
        raise KubeError(f"the Secret {name!r} of {rel.where} is written by External Secrets from your store; "
                        "airdeck cannot write that store. Put the new key in front of the old one there "
                        "(NEW,OLD), restart the release's pods, run `airflow rotate-fernet-key` once in an "
                        "api-server pod, then keep only NEW (docs/security.md); nothing was changed")
    handed = labels.get(ROTATED_BY[0]) == ROTATED_BY[1]
    if handed and labels.get(INSTANCE) != rel.where.release:
        raise KubeError(f"the Secret {name!r} of {rel.where} is labelled {ROTATED_BY[0]}={ROTATED_BY[1]} but "
                        f"for the release {labels.get(INSTANCE) or '(none)'!r} ({INSTANCE}); airdeck rotates a "
                        "Secret only for its own release. Check --release and --namespace, or correct the label; "
                        "nothing was changed")
    if not handed and (labels.get(INSTANCE) != rel.where.release or labels.get(COMPONENT) != "secrets"):
        raise KubeError(f"the Secret {name!r} of {rel.where} is not one the chart generated (secrets.*."
                        f"existingSecret: yours) nor labelled {ROTATED_BY[0]}={ROTATED_BY[1]}; airdeck rotates "
                        "only those. Rotate it where it is managed, as docs/security.md says (a Terraform "
                        "module older than this release: apply it once to label the Secret); nothing was changed")


def _state(secret: Any) -> dict[str, Any] | None:
    raw = (secret.metadata.annotations or {}).get(STATE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("phase") not in ("adding", "added", "reencrypted"):
        raise KubeError(f"the annotation {STATE} of the Fernet key's Secret holds no rotation state; inspect it, then "
                        "remove it to start over")
    return data


def _restart(rel: Release, users: list[tuple[str, str]], say: Callable[[str], None]) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    say(f"restarting {', '.join(name for _kind, name in users)} with the new key list")
    for kind, name in users:
        rel.restart(kind, name, stamp)
    for kind, name in users:
        rel.wait_rolled_out(kind, name, ROLLOUT_TIMEOUT)


def rotate(rel: Release, say: Callable[[str], None], reencrypt: Callable[[Release], Exec]) -> dict[str, Any]:
    """Rotate the release's Fernet key, or resume an unfinished rotation; returns the final state."""
    rel.require()
    name, key, users = _key_secret(rel)
    secret = rel.secret(name)
    _refuse_foreign(rel, secret, name)
    state = _state(secret)
    keys = split_keys(rel.secret_value(name, key))
    if state is None:
        new = Fernet.generate_key().decode("ascii")
        state = {"phase": "adding", "new": fingerprint(new), "old": [fingerprint(k) for k in keys]}
        rel.patch_secret(name, {key: ",".join([new, *keys])}, {STATE: json.dumps(state)})
        keys = [new, *keys]
        say(f"new key {state['new']} added in front of {', '.join(state['old']) or 'no key'}")
    elif not keys or fingerprint(keys[0]) != state["new"]:
        raise KubeError(f"the Secret {name!r} records a rotation to key {state['new']} (phase {state['phase']!r}) "
                        f"but its key list starts with {fingerprint(keys[0]) if keys else 'no key'}: it was changed "
                        f"during the rotation. Put key {state['new']} back in front, then run the command again; "
                        "nothing was changed")
    else:
        say(f"resuming the rotation to key {state['new']} from phase {state['phase']!r}")
    if state["phase"] == "adding":
        _restart(rel, users, say)
        state["phase"] = "added"
        rel.patch_secret(name, {}, {STATE: json.dumps(state)})
    if state["phase"] == "added":
        say("re-encrypting every value with the new key (airflow rotate-fernet-key, in an api-server pod)")
        done = reencrypt(rel)
        if done.exit_code != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
            raise KubeError(f"re-encrypting failed (exit {done.exit_code}); nothing was retired, run the command "
                            f"again to resume:\n{tail}")
        state["phase"] = "reencrypted"
        rel.patch_secret(name, {}, {STATE: json.dumps(state)})
        say("re-encrypted connections, variables, triggers and connection tests; every value decrypts with the "
            "new key alone")
    rel.patch_secret(name, {key: keys[0]}, {})
    say(f"retired {', '.join(state['old']) or 'no key'}")
    _restart(rel, users, say)
    rel.patch_secret(name, {}, {STATE: None})
    return state


def reencrypt_in_api_server(rel: Release) -> Exec:
    """``fernet rotate --step reencrypt`` inside a ready api-server container (it mounts the key list)."""
    pod = rel.running_pod("api-server")
    given = run_args(pod.spec)
    return rel.exec(pod, ["airdeck", "--target", "in-pod", "--release", given.get("--release", rel.where.release),
                          "--secrets-dir", given.get("--secrets-dir", "/run/secrets/airdeck"), "fernet", "rotate",
                          "--step", "reencrypt"])
