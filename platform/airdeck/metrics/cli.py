"""``airdeck metrics-bridge``: run the StatsD → Prometheus bridge in the foreground.

Exit codes: 0 after SIGTERM/SIGINT, 2 for bad arguments or an unusable mapping file, 1 when a
listener cannot be opened or the StatsD listener dies.
SIGHUP re-reads the mapping file (a bad file keeps the old mapping).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from airdeck.metrics.bridge import DEFAULT_MAX_SERIES, Bridge, BridgeError, BridgeSettings
from airdeck.metrics.gocompat import parse_go_duration
from airdeck.metrics.mapping import MappingFileError, load_mapping_file

log = logging.getLogger("airdeck.metrics")


def _duration(text: str) -> float:
    try:
        value = parse_go_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of series (0 or more)")
    return int(text)


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2}
    multiplier = units.get(text[-1:].lower(), 1)
    digits = text[:-1] if multiplier != 1 else text
    if not digits.isdigit() or int(digits) <= 0:
        raise argparse.ArgumentTypeError(f"expected a size in bytes such as 8388608 or 8M, got {text!r}")
    return int(digits) * multiplier


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airdeck metrics-bridge",
        description=(
            "Receive StatsD over UDP and serve Prometheus metrics, with statsd_exporter's mapping "
            "semantics. SIGHUP reloads the mapping file."
        ),
    )
    parser.add_argument(
        "--statsd-listen",
        default="127.0.0.1:9125",
        metavar="HOST:PORT",
        help="UDP address for StatsD lines (default %(default)s; :9125 for all interfaces)",
    )
    parser.add_argument(
        "--web-listen",
        default="127.0.0.1:9102",
        metavar="HOST:PORT",
        help="HTTP address for /metrics and /-/healthy (default %(default)s)",
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="statsd_exporter mapping file (v0.30 format, strict); without it every metric is unmapped",
    )
    parser.add_argument(
        "--ttl-default",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help='ttl for series whose mapping file sets none, e.g. "5m" (default 0: keep forever)',
    )
    parser.add_argument(
        "--udp-rcvbuf",
        type=_size,
        metavar="BYTES",
        help="UDP receive buffer (SO_RCVBUF), e.g. 8M; capped by net.core.rmem_max",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=1000,
        metavar="N",
        help="mapping cache entries, like statsd_exporter's --statsd.cache-size (default %(default)s)",
    )
    parser.add_argument(
        "--max-series",
        type=_count,
        default=DEFAULT_MAX_SERIES,
        metavar="N",
        help="most series held; samples that would create more are dropped and counted in "
        "airdeck_metrics_bridge_dropped_samples_total (default %(default)s; 0: no limit)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the mapping file and exit (0 when it is usable)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.check_config:
        if args.mapping is None:
            print("--check-config needs --mapping FILE", file=sys.stderr)
            return 2
        try:
            config = load_mapping_file(args.mapping)
        except MappingFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.mapping}: OK, {len(config.mappings)} mappings")
        return 0
    settings = BridgeSettings(
        statsd_listen=args.statsd_listen,
        web_listen=args.web_listen,
        mapping=args.mapping,
        ttl_default=args.ttl_default,
        udp_rcvbuf=args.udp_rcvbuf,
        cache_size=args.cache_size,
        max_series=args.max_series,
    )
    try:
        bridge = Bridge(settings)
    except MappingFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        bridge.start()
    except BridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def on_stop(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        bridge.request_stop()

    def on_hup(_signum: int, _frame: object) -> None:
        log.info("received SIGHUP, reloading %s", settings.mapping)
        bridge.request_reload()

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_hup))
    }
    try:
        stopped_cleanly = bridge.wait()
    finally:
        bridge.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopped_cleanly else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
