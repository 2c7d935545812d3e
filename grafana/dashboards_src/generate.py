"""Write grafana/dashboards/*.json from the code, or check (--check) that they are up to date."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from . import build_all, to_json

OUT_DIR = Path(__file__).resolve().parent.parent / "dashboards"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = {f"{uid}.json": to_json(model) for uid, model in build_all().items()}
    problems = []
    for name, text in wanted.items():
        path = OUT_DIR / name
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if check:
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                        f"committed/{name}", f"generated/{name}", n=2)
            problems.append("".join(list(diff)[:60]))
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    stale = sorted(p.name for p in OUT_DIR.glob("*.json") if p.name not in wanted)
    if stale:
        problems.append(f"JSON files no code generates: {', '.join(stale)} (delete them)")
    if check and problems:
        sys.stderr.write("\n".join(problems))
        sys.stderr.write("\ngrafana/dashboards is stale: run python grafana/generate.py\n")
        return 1
    if stale and not check:
        sys.stderr.write(problems[-1] + "\n")
        return 1
    return 0
