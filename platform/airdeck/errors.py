"""The one base class of airdeck's errors for people: what was wrong, where, and what to do.

Every layer raises these (or subclasses) instead of tracebacks; the CLI prints the message and exits
with ``exit_code``. Defined at the bottom of the import layers so that no concern has to reach up
into a target (``stack``) for its error type.
"""

from __future__ import annotations


class AirdeckError(Exception):
    """The platform cannot do what was asked. The message says what, where, and what to do."""

    exit_code = 1
