"""User-facing errors.

Everything a user can get wrong (a config key, a data file, a model name) raises a subclass of
:class:`UserError`. The CLI prints its message as one line and exits with code 2; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; the message says what is wrong and how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """An invalid configuration value, key or combination."""

    def __init__(self, key: str, value: object, allowed: str, hint: str | None = None):
        self.key, self.value, self.allowed = key, value, allowed
        msg = f"config error: {key}={value!r} is invalid; allowed: {allowed}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class DataError(UserError):
    """Missing, unreadable or malformed input data."""


class ModelLoadError(UserError):
    """A model or tokenizer that cannot be loaded (missing path, unreachable hub, bad files)."""


class RunInterrupted(Exception):
    """Training stopped early on purpose (trainer.stop_at_step); resume with the same command.
    Not a mistake and not a crash: exit code 3, the run directory kept for the resume."""

    exit_code = 3


class ReportedExit(SystemExit):
    """The end of a command after its one-line error was printed: ``sys.exit(code)`` that also
    carries the line, so a caller inside the same process (a sweep job) reads it as data."""

    def __init__(self, code: int, line: str):
        super().__init__(code)
        self.line = line
