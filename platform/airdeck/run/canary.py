"""The `helm test` canary: sign in as a configured user and check its permissions, then trigger a
small bundled DAG through the REST API and wait for success.

Runs as ``airdeck run canary --target kubernetes …`` in the chart's test pod. With ``--sign-in-as``
it first signs in as that user (an LDAP account, password from the mounted ``canary_password``) and
checks what the REST API lets it do: each ``--allowed`` permission must be granted and each
``--denied`` one refused (403). Permissions use the roles file's words (``can_read on DAGs``); each
is shown by one request (:data:`PROBES`) that changes nothing: a read lists the collection, a write
goes to an object that does not exist (``airdeck-canary-probe``) with a body the API refuses (a list),
so an allowed write answers 404 or 422 and a refused one 403. Then, unless no DAG is given, it signs
in as the admin account (``admin_password``), un-pauses the DAG, triggers one run with a small
configuration and waits for it to finish. Exit 0 when every check passed and the run succeeded, 1
otherwise; every step is printed so a failing `helm test` says where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.endpoints import Target
from airdeck.state.home import AirdeckHome


class CanaryError(AirdeckError):
    exit_code = 1


#: The object id a write probe addresses: none of that name exists, so an allowed write changes nothing.
PROBE_ID = "airdeck-canary-probe"
_ITEM = "/{id}"
#: The request that shows each permission the canary can check: resource -> action -> (method, path).
PROBES: dict[str, dict[str, tuple[str, str]]] = {
    "DAGs": {"can_read": ("GET", "/api/v2/dags"), "can_edit": ("PATCH", "/api/v2/dags" + _ITEM)},
    "DAG Runs": {"can_read": ("GET", "/api/v2/dags/~/dagRuns")},
    "Task Instances": {"can_read": ("GET", "/api/v2/dags/~/dagRuns/~/taskInstances")},
    "Audit Logs": {"can_read": ("GET", "/api/v2/eventLogs")},
    **{resource: {"can_read": ("GET", path), "can_create": ("POST", path), "can_edit": ("PATCH", path + _ITEM),
                  "can_delete": ("DELETE", path + _ITEM)}
       for resource, path in (("Connections", "/api/v2/connections"), ("Variables", "/api/v2/variables"),
                              ("Pools", "/api/v2/pools"))},
}


def probe_for(permission: str) -> tuple[str, str]:
    """The (method, path) that shows ``permission`` ("<action> on <resource>"); CanaryError naming the
    ones it can check otherwise."""
    action, _sep, resource = permission.strip().partition(" on ")
    found = PROBES.get(resource.strip(), {}).get(action.strip())
    if found is None:
        known = ", ".join(f"{a} on {r}" for r, actions in PROBES.items() for a in actions)
        raise CanaryError(f"the canary cannot check {permission!r}; it checks: {known}")
    method, path = found
    return method, path.replace("{id}", PROBE_ID)


@dataclass
class SignInCheck:
    """Sign in as ``username`` and check that ``allowed`` are granted and ``denied`` refused."""

    username: str
    password: str
    allowed: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)


@dataclass
class Canary:
    api_url: str
    username: str
    password: str
    dag_id: str = "example_fanout"
    conf: dict[str, Any] = field(default_factory=lambda: {"n": 2})
    timeout: float = 600.0
    verify: bool | str = True
    sign_in: SignInCheck | None = None
    _token: str = ""

    @classmethod
    def from_plan(cls, cfg: AirdeckConfig, home: AirdeckHome, target: Target, password: str,
                  dag_id: str = "example_fanout", conf: dict[str, Any] | None = None,
                  timeout: float = 600.0, sign_in: SignInCheck | None = None) -> Canary:
        """The api-server's internal address and CA from the plan; the admin account from airdeck.yaml."""
        api = concerns.plan(cfg, home, target).component("api-server")
        if api.probe is None:
            raise CanaryError("the plan's api-server has no probe address")
        return cls(api.probe.url, cfg.admin.username, password, dag_id, conf if conf is not None else {"n": 2},
                   timeout, api.probe.ca_file or True, sign_in)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return httpx.request(method, f"{self.api_url}{path}", headers=headers, timeout=30, verify=self.verify,
                             **kwargs)

    def say(self, message: str) -> None:
        print(f"canary: {message}", flush=True)

    def run(self) -> int:
        deadline = time.monotonic() + self.timeout
        try:
            return self._run(deadline)
        except (httpx.HTTPError, CanaryError) as exc:
            self.say(f"failed: {exc}")
            return 1

    def _sign_in(self, username: str, password: str) -> None:
        self._token = ""
        response = self._request("POST", "/auth/token", json={"username": username, "password": password})
        if response.status_code not in (200, 201):
            raise CanaryError(f"sign-in as {username} at {self.api_url}/auth/token answered "
                              f"{response.status_code}")
        self._token = response.json()["access_token"]
        self.say(f"signed in to {self.api_url} as {username}")

    def check_permissions(self, check: SignInCheck) -> int:
        """Sign in as the check's user; 0 when every permission is granted or refused as expected."""
        probes = [(p, True, probe_for(p)) for p in check.allowed] + [(p, False, probe_for(p)) for p in check.denied]
        self._sign_in(check.username, check.password)
        wrong = 0
        for permission, expected, (method, path) in probes:
            kwargs: dict[str, Any] = {"json": []} if method in ("POST", "PATCH") else {}
            status = self._request(method, path, **kwargs).status_code
            if status == 401:
                raise CanaryError(f"{method} {path} answered 401: the token of {check.username} was not accepted")
            granted = status != 403
            verdict = "granted" if granted else "refused"
            ok = granted == expected
            wrong += not ok
            self.say(f"{'ok' if ok else 'WRONG'}: {check.username} {permission}: {verdict} "
                     f"({method} {path} -> {status}; expected {'granted' if expected else 'refused'})")
        if wrong:
            self.say(f"{wrong} permission(s) of {check.username} differ from what was expected: check the roles "
                     "file (auth.roles), the LDAP group mapping (airdeck.auth.ldap.roles_mapping) and the user's "
                     "groups")
            return 1
        return 0

    def _run(self, deadline: float) -> int:
        if self.sign_in is not None and self.check_permissions(self.sign_in) != 0:
            return 1
        if not self.dag_id:
            return 0
        self._sign_in(self.username, self.password)
        while self._request("GET", f"/api/v2/dags/{self.dag_id}").status_code != 200:
            if time.monotonic() > deadline:
                raise CanaryError(f"DAG {self.dag_id} was not parsed in time")
            time.sleep(3)
        self._request("PATCH", f"/api/v2/dags/{self.dag_id}", json={"is_paused": False}).raise_for_status()
        response = self._request("POST", f"/api/v2/dags/{self.dag_id}/dagRuns",
                                 json={"logical_date": None, "conf": self.conf})
        response.raise_for_status()
        run_id = response.json()["dag_run_id"]
        self.say(f"triggered {self.dag_id} run {run_id} with {json.dumps(self.conf)}")
        state = "queued"
        while time.monotonic() < deadline:
            response = self._request("GET", f"/api/v2/dags/{self.dag_id}/dagRuns/{run_id}")
            if response.status_code == 200:
                state = response.json()["state"]
                if state in ("success", "failed"):
                    break
            time.sleep(3)
        self.say(f"run {run_id} of {self.dag_id}: {state}")
        return 0 if state == "success" else 1
