"""`airdeck dags status`: per DAG bundle the version in use, the last refresh, the last error and the
files that failed to import; `--check` also reaches every git repository now with its connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airdeck.cli import remote
from airdeck.cli.context import CliContext
from airdeck.cli.results import Column, Note, Record, Result, Table
from airdeck.dags.probe import run_probe
from airdeck.dags.status import BundleReport, gather

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 45


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("dags", help="DAG bundles (git or folders): versions, refreshes, errors")
    actions = parser.add_subparsers(dest="dags_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="per bundle: version in use, last refresh, last error, import errors")
    status.add_argument("--check", action="store_true",
                        help="also reach every git repository and branch now, with its connection")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=dags_status, kube_handler=remote.in_dag_processor)


def _short(record: Record) -> str:
    version = record.get("version")
    return str(version)[:12] if version else "-"


def _problem(record: Record) -> str:
    if record.get("check_error"):
        return str(record["check_error"])
    if record.get("state") == "failing" or record.get("state") == "never fetched":
        return str(record.get("last_error") or "")
    errors = record.get("import_errors") or []
    if errors:
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{first['file']}: {first['error']}{more}"
    return ""


COLUMNS = (
    Column.of_key("bundle", "name"),
    Column.of_key("kind"),
    Column.of_key("state", styles={"ok": "green", "failing": "red", "never fetched": "red", "import errors": "yellow"}),
    Column("version", _short),
    Column.of_key("last refresh", "last_refresh", limit=19),
    Column.of_key("source"),
    Column("last error / import errors", _problem),
)


def dags_status(ctx: CliContext) -> Result:
    """Exit 1 when a bundle is failing (its last fetch failed) or a file does not import."""
    cfg = ctx.config()
    stack = ctx.platform()
    try:
        url: str | None = stack.secret("database_url")
    except Exception:  # noqa: BLE001 - no secrets yet: the platform never started
        url = None
    reports, why = gather(cfg, url)
    records: list[dict[str, Any]] = [r.as_dict() for r in reports]
    notes: list[Note] = []
    if why:
        notes.append(Note(why, "warn"))
    if ctx.args.check:
        results = {r.bundle: r for r in run_probe(stack.cli_env())}
        for record in records:
            found = results.get(record["name"])
            if found is not None:
                record["check"] = "ok" if found.ok else "failed"
                record["check_error"] = None if found.ok else found.detail
                record["remote_version"] = found.commit
        for found in results.values():
            if found.bundle == "*":
                notes.append(Note(found.detail, "fail"))
    bad = [r for r in records if r["state"] in ("failing", "never fetched") or r["import_errors"]
           or r.get("check") == "failed"]
    footnotes = tuple((r["name"], r["last_error"]) for r in records if r["last_error"]
                      and r["state"] in ("failing", "never fetched"))
    footnotes += tuple((f"{r['name']}/{p['file']}", p["error"]) for r in records for p in r["import_errors"])
    table = Table("DAG bundles", "bundles", COLUMNS, tuple(records), footnotes=footnotes)
    return Result.of(*notes, table, exit_code=1 if bad else 0, as_json=ctx.args.json)


def import_error_notes(reports: list[BundleReport]) -> list[Note]:
    """The DAG lines `airdeck status` adds under its table: failing bundles and import errors."""
    notes = []
    for report in reports:
        if report.state in ("failing", "never fetched") and report.last_error:
            notes.append(Note(report.last_error, "fail"))
        for problem in report.import_errors:
            notes.append(Note(f"DAG import error in bundle {report.name}, {problem.file}: {problem.error}", "fail"))
    if notes:
        notes.append(Note("details: airdeck dags status", "plain"))
    return notes
