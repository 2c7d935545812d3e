"""Fuzz target: airdeck.yaml bytes → YAML → the model → (if valid) the deployment plan.

The only exceptions allowed are airdeck's own errors (:class:`airdeck.errors.AirdeckError`, which
:class:`airdeck.config.ConfigError` is): anything else — RecursionError, ValueError, OverflowError,
UnicodeEncodeError, TypeError — is a crash, and libFuzzer saves the input that caused it.

Run: ``python tests/fuzz/fuzz_config.py -max_total_time=30 CORPUS_DIR tests/fuzz/corpus/config``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["airdeck", "yaml"]):
    from airdeck import concerns
    from airdeck.config.loader import parse_config, read_yaml_bytes
    from airdeck.errors import AirdeckError
    from airdeck.state.home import AirdeckHome

HOME = AirdeckHome(Path("/tmp/airdeck-fuzz-home"))  # never written: planning does no I/O


def test_one_input(data: bytes) -> None:
    try:
        cfg = parse_config(read_yaml_bytes(data, "airdeck.yaml"), "airdeck.yaml")
        concerns.plan(cfg, HOME)
    except AirdeckError as exc:
        str(exc)  # the message itself must render


def main() -> None:
    sys.setrecursionlimit(1000)  # the interpreter's default: a deep input must not need more
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
