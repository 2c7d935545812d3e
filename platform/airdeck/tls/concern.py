"""The TLS concern: HTTPS settings of the api-server and of its clients, and the certificate check
(or generation of a local CA) before anything starts."""

from __future__ import annotations

from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime
from airdeck.plan.model import Settings
from airdeck.tls import settings as tls_settings


class TLSConcern(Concern):
    name = "tls"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return tls_settings.contribute(ctx.cfg, ctx.home, component)

    def preflight(self, phase: Phase) -> list[Check]:
        return [prepare_certificates] if phase == "before_start" else []


def prepare_certificates(runtime: Runtime) -> None:
    message = tls_settings.prepare(runtime.cfg, runtime.home)
    if message:
        runtime.say(message)
