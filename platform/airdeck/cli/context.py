"""What every command handler receives: the parsed arguments, the state folder, the console, and
the configuration and the stack, each made on first use."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from airdeck.cli import output
from airdeck.cli.results import Note, Result
from airdeck.config import load_config
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.run.incluster import InPodPlatform
from airdeck.stack.orchestrator import Stack
from airdeck.state.home import AirdeckHome

if TYPE_CHECKING:
    #: The parser's sub-commands, as each command module's ``register(sub)`` receives them (argparse
    #: gives the type no public name).
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass
class CliContext:
    """The state of one ``airdeck`` invocation, handed to the command's handler."""

    args: argparse.Namespace
    home: AirdeckHome
    console: Console  # for people: progress and notes, on standard error
    _config: AirdeckConfig | None = field(default=None, init=False, repr=False)
    _stack: Stack | None = field(default=None, init=False, repr=False)
    _in_pod: InPodPlatform | None = field(default=None, init=False, repr=False)

    @classmethod
    def of(cls, args: argparse.Namespace, console: Console) -> CliContext:
        return cls(args, AirdeckHome.from_env(args.home), console)

    def config(self) -> AirdeckConfig:
        """airdeck.yaml (``--config``, ``$AIRDECK_CONFIG``, ./airdeck.yaml or the defaults), loaded once."""
        if self._config is None:
            self._config = load_config(self.args.config)
        return self._config

    def loaded_config(self) -> AirdeckConfig | None:
        """The configuration if it was loaded already (never loads it)."""
        return self._config

    def stack(self) -> Stack:
        """The local platform for this configuration and state folder, made once."""
        if self._stack is None:
            self._stack = Stack(self.config(), self.home, self.console)
        return self._stack

    def platform(self) -> Stack | InPodPlatform:
        """The platform a command acts on: the local stack, or, with ``--target in-pod`` (what
        ``--target kubernetes`` runs inside a release's container), the release's mounted configuration."""
        if getattr(self.args, "where", "local") != "in-pod":
            return self.stack()
        if self._in_pod is None:
            secrets_dir = self.args.secrets_dir_in_pod or Path("/run/secrets/airdeck")
            self._in_pod = InPodPlatform.of(self.config(), self.home, self.args.k8s_release, secrets_dir)
        return self._in_pod

    def show(self, result: Result) -> None:
        """Show a result before the handler returns (commands that wait or stream after showing it)."""
        output.render(result, self.console)

    def say(self, text: str) -> None:
        """Report a step done, as it happens (``✓ text``)."""
        output.show(Note(text, "ok"), self.console)


Handler = Callable[[CliContext], Result]


class CommandError(AirdeckError):
    """A command cannot do what was asked (bad input, nothing there yet); the message says what to do."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
