"""Errors raised while starting or inspecting the stack."""

from __future__ import annotations


class StackError(Exception):
    """The stack cannot do what was asked. The message says what and what to do."""

    exit_code = 1


class PortInUseError(StackError):
    pass


class ExternalServiceError(StackError):
    pass


class ServiceUnhealthyError(StackError):
    pass
