"""Run the command sequences of the docs from the docs' own text.

A fenced block whose info string is ``bash test:NAME`` or ``yaml test:NAME`` belongs to the sequence
NAME (GitHub shows it as an ordinary bash or YAML block). Blocks of one sequence run in the order of
:data:`DOCS`, then of the text:

* ``bash``: each command (a line; a trailing backslash continues it) runs with ``bash -c`` in a
  folder that looks like a checkout (``.venv/bin/airdeck`` and ``airdeck`` on ``PATH`` run this
  source tree), and must exit 0;
* ``yaml``: the block is merged into the stack's ``airdeck.yaml`` (as a user adds those keys).

Nothing in a block is rewritten: values a reader would fill in come from the environment
(``$VAULT_ADDR``, ``$SLACK_WEBHOOK_URL``, …), which the test provides.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness import REPO, deep_merge

#: The files whose tested blocks run, in this order.
DOCS = ("README.md", "docs/operations.md", "docs/security.md", "docs/alerting.md", "docs/observability.md")
FENCE = re.compile(r"^```(?P<lang>bash|yaml)\s+test:(?P<name>[A-Za-z0-9_-]+)\s*$")


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # of the opening fence, 1-based
    lang: str
    sequence: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def blocks(root: Path = REPO, docs: tuple[str, ...] = DOCS) -> list[Block]:
    out: list[Block] = []
    for rel in docs:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            match = FENCE.match(lines[index])
            if match is None:
                index += 1
                continue
            start = index
            body: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            if index == len(lines):
                raise ValueError(f"{rel}:{start + 1}: the tested block is not closed")
            out.append(Block(rel, start + 1, match["lang"], match["name"], "\n".join(body) + "\n"))
            index += 1
    return out


def sequence(name: str, root: Path = REPO) -> list[Block]:
    found = [b for b in blocks(root) if b.sequence == name]
    if not found:
        raise AssertionError(f"no block marked test:{name} in {', '.join(DOCS)}")
    return found


def commands(block: Block) -> list[str]:
    """The block's commands: continued lines joined, blank and comment-only lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    if pending.strip():
        out.append(pending.strip())
    return out


def checkout(folder: Path) -> Path:
    """A folder with ``.venv/bin/airdeck`` (and ``bin/airdeck`` for PATH) running this source tree."""
    script = (f"#!/bin/sh\nPYTHONPATH={REPO / 'platform'}${{PYTHONPATH:+:$PYTHONPATH}} "
              f"exec {sys.executable} -m airdeck.cli.main \"$@\"\n")
    for sub in (".venv/bin", "bin"):
        path = folder / sub / "airdeck"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)
    return folder


@dataclass
class Step:
    block: Block
    command: str
    seconds: float
    output: str


class DocRunner:
    def __init__(self, workdir: Path, config: Path, env: dict[str, str]):
        self.workdir = checkout(workdir)
        self.config = config
        self.env = {**env, "PATH": f"{self.workdir / 'bin'}:{env.get('PATH', os.defpath)}",
                    "AIRDECK_CONFIG": str(config)}
        self.steps: list[Step] = []

    def merge(self, block: Block) -> None:
        extra = yaml.safe_load(block.text)
        if not isinstance(extra, dict):
            raise AssertionError(f"{block.where}: the tested YAML block is not a mapping")
        current: dict[str, Any] = yaml.safe_load(self.config.read_text(encoding="utf-8")) or {}
        self.config.write_text(yaml.safe_dump(deep_merge(current, extra)), encoding="utf-8")

    def run(self, name: str, timeout: float = 900) -> list[Step]:
        done: list[Step] = []
        for block in sequence(name):
            if block.lang == "yaml":
                self.merge(block)
                continue
            for command in commands(block):
                started = time.monotonic()
                result = subprocess.run(["bash", "-c", command], cwd=self.workdir, env=self.env, capture_output=True,
                                        text=True, timeout=timeout, check=False)
                output = result.stdout + result.stderr
                if result.returncode != 0:
                    raise AssertionError(f"{block.where}: `{command}` exited {result.returncode}:\n{output[-4000:]}")
                done.append(Step(block, command, time.monotonic() - started, output))
        self.steps += done
        return done
