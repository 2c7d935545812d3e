"""`airdeck tls init`: a local CA and a server certificate for serving the api-server over HTTPS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Note, Result, Text
from airdeck.tls.certs import TLSFiles, certificate_names, default_names, generate, trust_instructions

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 42


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("tls", help="HTTPS for the api-server")
    actions = parser.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="generate a local CA and server certificate (keys 0600)")
    init.add_argument("--hostname", action="append", default=[], help="extra DNS name or IP (repeatable)")
    init.add_argument("--force", action="store_true", help="issue a new server certificate (keeps the CA)")
    init.set_defaults(handler=tls_init)


def tls_init(ctx: CliContext) -> Result:
    cfg = ctx.config()
    files = TLSFiles.of(ctx.home)
    names = default_names([*cfg.tls.hostnames, *ctx.args.hostname], cfg.api_server.host)
    if generate(files, names, force=ctx.args.force):
        done = Note(f"wrote {files.ca_cert}, {files.server_cert} and their keys (0600) in {files.folder}", "ok")
    else:
        done = Note(f"certificates already exist in {files.folder} (use --force for a new server certificate)")
    lines = [f"server certificate names: {', '.join(certificate_names(files.server_cert))}",
             trust_instructions(files.ca_cert)]
    if not cfg.tls.enabled:
        lines.append("Serve the api-server over HTTPS with `tls: {enabled: true}` in airdeck.yaml, then `airdeck up`.")
    return Result.of(done, Text.lines(lines))
