"""The kernel's drop counter for one UDP socket, read from ``/proc/net/udp`` (and ``udp6``).

Linux counts, per socket, the datagrams it discarded because the receive buffer was full (the
last column, ``drops``). That is the number behind ``statsd_exporter_udp_packet_drops_total``:
packets that never reached the bridge. Elsewhere the reader returns None and the metric is left
out rather than reported as a misleading zero.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_TABLES = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


class UDPDropReader:
    def __init__(self, sock: socket.socket, tables: tuple[Path, ...] = _TABLES):
        self.inode = str(os.fstat(sock.fileno()).st_ino)
        self.tables = tables

    def read(self) -> float | None:
        for table in self.tables:
            try:
                with table.open() as handle:
                    next(handle, None)  # header
                    for row in handle:
                        fields = row.split()
                        if len(fields) >= 13 and fields[9] == self.inode:
                            return float(fields[-1])
            except OSError:
                continue
        return None
