"""Deliver a rendered message through the Slack (incoming webhook) and SMTP providers' hooks.

Connections are resolved the Airflow way (environment, secrets backend such as Vault, metadata
database), so the same connection ids work for the dispatcher and for DAG authors.

Each call makes one attempt, bounded by ``alerts.delivery.timeout`` (per network operation): the
outbox retries with backoff, so the hooks' own immediate retries are turned off. A failure is
permanent (dead-lettered at once) when the server says the request itself is wrong: Slack answering
4xx other than 429, an SMTP server answering 5xx (RFC 5321's permanent replies). Everything else —
Slack 429 and 5xx, SMTP 4xx, refused connections, time-outs — is retried.
"""

from __future__ import annotations

import math
import re
import smtplib
from dataclasses import dataclass
from functools import cache
from typing import Any

from airdeck.alerts.messages import Message
from airdeck.config.alerts import ChannelSettings


class DeliveryError(Exception):
    """A delivery failed. ``permanent`` errors are not retried (the request itself is wrong)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


_STATUS = re.compile(r"Status Code: (\d{3})")


@dataclass
class Sender:
    name: str
    settings: ChannelSettings
    timeout: float

    def send(self, message: Message) -> None:
        if self.settings.type == "slack":
            self._slack(message)
        else:
            self._email(message)

    def _slack(self, message: Message) -> None:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        hook = SlackWebhookHook(slack_webhook_conn_id=self.settings.connection, timeout=int(max(1, self.timeout)))
        try:
            hook.send(text=message.text, blocks=message.blocks, unfurl_links=False, unfurl_media=False)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            match = _STATUS.search(text)
            status = int(match.group(1)) if match else None
            # 4xx other than 429 means the webhook or the payload is wrong: retrying will not help.
            permanent = status is not None and 400 <= status < 500 and status != 429
            raise DeliveryError(f"Slack ({self.settings.connection}): {text[:500]}", permanent) from exc

    def _email(self, message: Message) -> None:
        headers = {"X-Airdeck-Alert-Key": message.key,
                   # One stable Message-ID per alert: a client that sees the same alert twice shows it once.
                   "Message-ID": f"<{abs(hash_key(message.key))}.{len(message.key)}@airdeck.alerts>"}
        try:
            with _one_attempt_smtp_hook()(self.settings.connection, self.timeout) as hook:
                hook.send_email_smtp(to=self.settings.to, subject=message.subject, html_content=message.html,
                                     from_email=self.settings.from_email, custom_headers=headers)
        except Exception as exc:
            raise DeliveryError(f"SMTP ({self.settings.connection}): {type(exc).__name__}: {str(exc)[:500]}",
                                smtp_permanent(exc)) from exc


def smtp_permanent(exc: BaseException) -> bool:
    """True when the SMTP server refused with a 5xx reply (for refused recipients: every one of them)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


@cache
def _one_attempt_smtp_hook() -> Any:
    """The SMTP provider's hook with the dispatcher's time-out and a single attempt per call (built on first use:
    importing the provider is slow)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class OneAttemptSmtpHook(SmtpHook):  # type: ignore[misc]
        def __init__(self, conn_id: str, timeout: float):
            super().__init__(smtp_conn_id=conn_id)
            self._bound = max(1, math.ceil(timeout))

        @property
        def timeout(self) -> int:  # the connection's own time-out when it is shorter
            return int(min(super().timeout, self._bound))

        @property
        def smtp_retry_limit(self) -> int:
            return 0

    return OneAttemptSmtpHook


def hash_key(key: str) -> int:
    """A stable (process-independent) hash of an alert key."""
    import hashlib

    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
