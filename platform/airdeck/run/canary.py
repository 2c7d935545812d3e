"""The `helm test` canary: trigger a small bundled DAG through the REST API and wait for success.

Runs as ``airdeck run canary --target kubernetes …`` in the chart's test pod: it signs in as the
admin account (``admin_password`` from the mounted secrets), un-pauses the DAG, triggers one run with
a small configuration and waits for it to finish. Exit 0 when the run succeeded, 1 when it failed or
did not finish in time; every step is printed so a failing `helm test` says where it stopped.
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


@dataclass
class Canary:
    api_url: str
    username: str
    password: str
    dag_id: str = "example_fanout"
    conf: dict[str, Any] = field(default_factory=lambda: {"n": 2})
    timeout: float = 600.0
    verify: bool | str = True
    _token: str = ""

    @classmethod
    def from_plan(cls, cfg: AirdeckConfig, home: AirdeckHome, target: Target, password: str,
                  dag_id: str = "example_fanout", conf: dict[str, Any] | None = None,
                  timeout: float = 600.0) -> Canary:
        """The api-server's internal address and CA from the plan; the admin account from airdeck.yaml."""
        api = concerns.plan(cfg, home, target).component("api-server")
        if api.probe is None:
            raise CanaryError("the plan's api-server has no probe address")
        return cls(api.probe.url, cfg.admin.username, password, dag_id, conf if conf is not None else {"n": 2},
                   timeout, api.probe.ca_file or True)

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

    def _run(self, deadline: float) -> int:
        response = self._request("POST", "/auth/token", json={"username": self.username, "password": self.password})
        if response.status_code not in (200, 201):
            raise CanaryError(f"sign-in as {self.username} at {self.api_url}/auth/token answered "
                              f"{response.status_code}")
        self._token = response.json()["access_token"]
        self.say(f"signed in to {self.api_url} as {self.username}")
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
