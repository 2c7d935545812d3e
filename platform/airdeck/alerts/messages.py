"""Render alerts as Slack Block Kit and HTML email (Jinja2 templates, short lines for phones)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

TITLES = {
    "task_failed": "Task failed",
    "task_retry": "Task will retry",
    "dag_run_failed": "DAG run failed",
    "sla_missed": "SLA missed",
    "dag_import_error": "DAG import error",
    "recovered": "DAG recovered",
    "test": "Test alert",
}
EMOJI = {"task_failed": ":red_circle:", "task_retry": ":large_orange_circle:", "dag_run_failed": ":red_circle:",
         "sla_missed": ":alarm_clock:",
         "dag_import_error": ":warning:", "recovered": ":large_green_circle:", "test": ":white_check_mark:"}
COLORS = {"dag_import_error": "#ef6c00",
          "task_failed": "#d32f2f", "task_retry": "#ef6c00", "dag_run_failed": "#d32f2f", "sla_missed": "#6a1b9a",
          "recovered": "#2e7d32", "test": "#1565c0", "digest": "#d32f2f"}

_TEMPLATES = PackageLoader("airdeck.alerts", "templates")
# Slack text is escaped explicitly with the |mrkdwn filter; HTML is autoescaped.
_text_env = Environment(loader=_TEMPLATES, undefined=StrictUndefined, autoescape=False,  # noqa: S701
                        trim_blocks=True, lstrip_blocks=True)
_html_env = Environment(loader=_TEMPLATES, undefined=StrictUndefined, autoescape=True, trim_blocks=True,
                        lstrip_blocks=True)


def mrkdwn(value: object) -> str:
    """Escape for Slack mrkdwn (only &, <, > are special).

    Every value that comes from a task or from Airflow (ids, log excerpt, exception text, host) goes
    through this before it reaches a ``mrkdwn`` block or the fallback ``text``: ``<!channel>`` and
    ``<https://evil|Open task log>`` in a task's output must reach Slack as text, never as a mention
    or a link. Slack decodes the three entities back for display (also inside code blocks)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code_block(lines: list[str]) -> str:
    """Log lines for a Slack code block: escaped, and unable to close the block early."""
    return mrkdwn("\n".join(str(line) for line in lines)[-2800:].replace("```", "'''"))


_text_env.filters["mrkdwn"] = mrkdwn

SUMMARY = _text_env.from_string(
    "{{ title }}: {% if p.task_id %}{{ p.task_id }} in {% endif %}{{ p.dag_id }}"
    "{% if p.try_number %} (try {{ p.try_number }}{% if p.max_tries is not none %}/{{ p.max_tries + 1 }}{% endif %})"
    "{% endif %}")

SLACK_FIELDS = _text_env.get_template("slack_fields.md.j2")

EMAIL = _html_env.get_template("alert_email.html.j2")

DIGEST_EMAIL = _html_env.get_template("digest_email.html.j2")


@dataclass
class Message:
    """One rendered message, for both channel kinds."""

    key: str
    subject: str
    text: str
    blocks: list[dict[str, Any]]
    html: str


def _button(text: str, url: str, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}, "url": url}
    if primary:
        button["style"] = "danger"
    return button


def render_import_error(key: str, payload: dict[str, Any]) -> Message:
    """A DAG file that fails to import (or imports again): bundle, file, commit, the error."""
    fixed = payload["event"] == "recovered"
    title = "DAG import fixed" if fixed else TITLES["dag_import_error"]
    where = f"{payload.get('bundle')}/{payload.get('file')}"
    commit = payload.get("commit") or "-"
    summary = f"{title}: {payload.get('file')} in bundle {payload.get('bundle')} (commit {commit[:12]})"
    facts = [("Bundle", payload.get("bundle")), ("File", payload.get("file")),
             ("Commit", commit), ("Error" if not fixed else "Was", payload.get("error")),
             ("When", payload.get("occurred_at"))]
    emoji = EMOJI["recovered"] if fixed else EMOJI["dag_import_error"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title}: {where}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} {mrkdwn(summary)}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
            f"*{label}:* `{mrkdwn(value)}`" for label, value in facts if value)[:2900]}},
    ]
    excerpt = payload.get("log_excerpt") or []
    if excerpt and not fixed:
        body = _code_block(excerpt)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Traceback*\n```{body}```"}})
    url = (payload.get("links") or {}).get("dag_url")
    if url:
        blocks.append({"type": "actions", "elements": [_button("Import errors", url, primary=not fixed)]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"airdeck · `{mrkdwn(key)}`"}]})
    rows = "".join(f"<tr><td style=\"padding:4px 8px;color:#555\">{html.escape(label)}</td>"
                   f"<td style=\"padding:4px 8px\"><code>{html.escape(str(value))}</code></td></tr>"
                   for label, value in facts if value)
    trace = ("<pre style=\"white-space:pre-wrap;font-size:12px\">" + html.escape("\n".join(excerpt)) + "</pre>"
             if excerpt and not fixed else "")
    link = f"<p><a href=\"{html.escape(url)}\">Import errors</a></p>" if url else ""
    color = COLORS["recovered" if fixed else "dag_import_error"]
    body_html = (f"<!doctype html><html><body style=\"font-family:sans-serif;max-width:600px\">"
                 f"<h2 style=\"color:{color}\">{html.escape(title)}</h2><p>{html.escape(summary)}</p>"
                 f"<table>{rows}</table>{trace}{link}<p style=\"color:#888;font-size:11px\">{html.escape(key)}</p>"
                 f"</body></html>")
    text = "\n".join(mrkdwn(line) for line in [summary, f"error: {payload.get('error')}"] + ([url] if url else []))
    return Message(key=key, subject=_subject(summary), text=text, blocks=blocks, html=body_html)


def render_alert(key: str, payload: dict[str, Any]) -> Message:
    event = payload["event"]
    if event == "dag_import_error" or payload.get("recovered_from") == "dag_import_error":
        return render_import_error(key, payload)
    title = TITLES.get(event, event)
    p = dict(payload)
    p.setdefault("max_tries", None)
    p.setdefault("map_index", -1)
    summary = SUMMARY.render(title=title, p=_Attr(p))
    links = payload.get("links") or {}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title}: {payload['dag_id']}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{EMOJI.get(event, '')} {mrkdwn(summary)}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": SLACK_FIELDS.render(p=_Attr(p))[:2900]}},
    ]
    excerpt = payload.get("log_excerpt") or []
    if excerpt:
        body = _code_block(excerpt)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Last log lines*\n```{body}```"}})
    elif payload.get("log_omitted"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": "Log excerpt omitted during an alert storm; open the log."}]})
    buttons = []
    if links.get("log_url"):
        buttons.append(_button("Open task log", links["log_url"], primary=True))
    if links.get("run_url"):
        buttons.append(_button("DAG run", links["run_url"]))
    if links.get("grafana_url"):
        buttons.append(_button("Grafana", links["grafana_url"]))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"airdeck · `{mrkdwn(key)}`"}]})
    text_lines = [summary, f"run {payload.get('run_id')}"]
    if excerpt:
        text_lines.append(str(excerpt[-1]))
    if links.get("log_url"):
        text_lines.append(links["log_url"])
    html_body = EMAIL.render(title=title, summary=summary, p=_Attr(p), links=_Attr(links), key=key,
                             color=COLORS.get(event, "#d32f2f"))
    return Message(key=key, subject=_subject(summary), text="\n".join(mrkdwn(line) for line in text_lines),
                   blocks=blocks, html=html_body)


def render_digest(key: str, channel: str, payloads: list[dict[str, Any]], threshold: int, window: str,
                  grafana_url: str | None = None) -> Message:
    groups: dict[tuple[str, str], int] = {}
    for p in payloads:
        group = (p["event"], p["dag_id"])
        groups[group] = groups.get(group, 0) + 1
    ordered = sorted(groups.items(), key=lambda kv: -kv[1])
    title = f"{len(payloads)} alerts summarised (alert storm on {channel})"
    lines = [f"• {TITLES.get(e, e)} — `{mrkdwn(d)}`: {n}" for (e, d), n in ordered[:20]]
    if len(ordered) > 20:
        lines.append(f"… and {len(ordered) - 20} more groups")
    sample = payloads[:5]
    sample_lines = []
    for p in sample:
        label = f"{p['dag_id']}{'.' + p['task_id'] if p.get('task_id') else ''} · {p.get('run_id')}"
        url = (p.get("links") or {}).get("log_url")
        sample_lines.append(f"• <{mrkdwn(url)}|{mrkdwn(label)}>" if url else f"• {mrkdwn(label)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": ("*First few*\n" + "\n".join(sample_lines))[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            f"More than {threshold} alerts within {window} on this channel are summarised · `{mrkdwn(key)}`"}]},
    ]
    if grafana_url:
        blocks.insert(3, {"type": "actions", "elements": [_button("Grafana", grafana_url)]})
    rows = [_Attr(p, links=_Attr(p.get("links") or {})) for p in sample]
    html_body = DIGEST_EMAIL.render(title=title, groups=ordered, sample=rows,
                                    titles=TITLES, threshold=threshold, window=window, grafana=grafana_url)
    text = mrkdwn(title + "\n" + "\n".join(f"{TITLES.get(e, e)} {d}: {n}" for (e, d), n in ordered))
    return Message(key=key, subject=_subject(title), text=text, blocks=blocks, html=html_body)


def render_test(channel: str, public_url: str) -> Message:
    title = f"Test alert from airdeck to channel {channel}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{EMOJI['test']} {mrkdwn(title)}"}},
              {"type": "actions", "elements": [_button("Open Airflow", public_url)]}]
    body = (f"<!doctype html><html><body style=\"font-family:sans-serif;\"><p>{html.escape(title)}.</p>"
            f"<p><a href=\"{html.escape(public_url)}\">Open Airflow</a></p></body></html>")
    return Message(key=f"test|{channel}", subject=_subject(title), text=mrkdwn(title), blocks=blocks, html=body)


def _subject(summary: str) -> str:
    """An email subject: one line (control characters from task data become spaces), at most 250 characters."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in f"[airdeck] {summary}")[:250]


class _Attr(dict):  # type: ignore[type-arg]
    """A dict whose keys Jinja can also read as attributes, with None for absent keys."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)
