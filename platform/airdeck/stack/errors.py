"""Errors raised while starting or inspecting the stack."""

from __future__ import annotations

from airdeck.errors import AirdeckError


class StackError(AirdeckError):
    """The stack cannot do what was asked. The message says what and what to do."""


class PortInUseError(StackError):
    pass


class ExternalServiceError(StackError):
    pass


class ServiceUnhealthyError(StackError):
    pass
