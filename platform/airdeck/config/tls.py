"""``tls:`` in airdeck.yaml: serve the api-server over HTTPS.

With ``enabled: true`` and no ``cert_file``, airdeck uses (and creates on first start) a local CA and a
server certificate in $AIRDECK_HOME/tls, the same files `airdeck tls init` writes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from airdeck.config.base import Section


class TLSSettings(Section):
    """HTTPS for the api-server."""

    enabled: bool = Field(False, description="Serve the api-server over HTTPS.")
    cert_file: Path | None = Field(
        None, description="PEM server certificate (with its chain). Default: the one airdeck generates.")
    key_file: Path | None = Field(None, description="PEM private key of cert_file (mode 0600).")
    ca_file: Path | None = Field(
        None, description="CA bundle that verifies cert_file; used by health checks and workers. "
                          "Default: the generated CA (or the system CAs with a provided cert).")
    hostnames: list[str] = Field(
        default_factory=list,
        description="Extra DNS names or IP addresses for the generated certificate "
                    "(localhost, 127.0.0.1, ::1, this host's name and api_server.host are always in it).")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TLSSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both, or neither to use the generated ones")
        return self
