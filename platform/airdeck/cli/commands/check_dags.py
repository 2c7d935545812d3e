"""`airdeck check-dags FOLDER`: the DAG code changes Airflow 3 needs (ruff's AIR3xx rules), with file
and line; exit 1 when there is anything to change (or a file cannot be read)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Document, Note, Result, Text
from airdeck.ops.check_dags import Finding, check_dags

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 46



def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "check-dags", help="report the DAG code changes Airflow 3 needs (ruff's Airflow rules, AIR3xx)",
        description="Check every Python file under FOLDER with ruff's Airflow 3 rules (AIR301 removed, "
                    "AIR302 moved to a provider, AIR303 changed signatures, AIR304 dynamic DAG values, "
                    "AIR311/AIR312 deprecated, AIR321 moved in 3.1). Exit 1 when anything needs a change "
                    "or a file cannot be read or parsed.")
    parser.add_argument("folder", metavar="FOLDER", type=Path, help="the DAG folder to check")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=check_dags_command)


def finding_line(folder: Path, finding: Finding) -> str:
    """One finding as compilers and linters print them: ``path:line:column: CODE message [fix]``."""
    fix = " [fix available]" if finding.fix_available else ""
    return f"{folder / finding.file}:{finding.line}:{finding.column}: {finding.code} {finding.message}{fix}"


def check_dags_command(ctx: CliContext) -> Result:
    """Exit 0 when nothing needs a change, 1 otherwise; a folder that cannot be checked is an error."""
    report = check_dags(ctx.args.folder)
    if ctx.args.json:
        return Result.of(Document(report.as_dict()), exit_code=0 if report.ok else 1)
    notes = [Note(f"ruff: {warning}", "warn") for warning in report.warnings]
    if report.ok:
        notes.append(Note(f"{report.files_checked} files in {report.folder}: nothing to change for Airflow 3 "
                          f"(ruff {report.ruff_version}, {', '.join(report.rules)})", "ok"))
        return Result.of(*notes)
    counts = ", ".join(f"{code} {n}" for code, n in report.counts().items())
    lines = Text.lines([finding_line(Path(ctx.args.folder), f) for f in report.findings])
    notes.append(Note(f"{len(report.findings)} findings in {len(report.files_with_findings)} of "
                      f"{report.files_checked} files ({counts})", "fail"))
    if report.fixable:
        notes.append(Note(f"{report.fixable} can be fixed by ruff: {report.fix_command()} "
                          "(review the diff; add --unsafe-fixes for the import moves)", "plain"))
    notes.append(Note("explain a rule: ruff rule AIR301", "plain"))
    return Result.of(lines, *notes, exit_code=1)
