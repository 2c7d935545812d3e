"""The `airdeck` command: it parses arguments and calls the package; no logic lives here."""
