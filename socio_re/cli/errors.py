"""Turn user mistakes into one line on stderr and exit code 2, from any entry point."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from socio_re.errors import UserError

T = TypeVar("T")

def _report(line: str, code: int):
    from socio_re.errors import ReportedExit

    print(line, file=sys.stderr)
    raise ReportedExit(code, line)  # a SystemExit: the process ends with ``code``


def hydra_error_line(exc: BaseException) -> str | None:
    """One line for an error Hydra raises while composing (None if it is not one)."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import OmegaConfBaseException

    from socio_re.config.validate import translate_omegaconf_error

    if isinstance(exc, MissingConfigException):
        missing = exc.missing_cfg_file or ""
        if exc.options:
            group = missing.rpartition("/")[0] or "group"
            option = missing.rpartition("/")[2]
            return (
                f"config error: {group}={option} is not a known option; "
                f"allowed: {', '.join(sorted(exc.options))}"
            )
        return f"config error: {str(exc).splitlines()[0]}"
    if isinstance(exc, OverrideParseException):
        return f"config error: cannot parse the override: {str(exc).splitlines()[0]}"
    if isinstance(exc, ConfigCompositionException):
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException):
            line = str(translate_omegaconf_error(cause))
            if "unknown key" in line:
                line += f" (to add a new key on purpose: +{cause.full_key}=...)"
            return line
        return "config error: " + " ".join(str(exc).split())
    if isinstance(exc, OmegaConfBaseException):
        return str(translate_omegaconf_error(exc))
    if isinstance(exc, ValueError) and str(exc).startswith("Only one of --run, --multirun"):
        return f"usage error: {exc} (e.g. drop -m to print the config with --cfg job)"
    return None


def run_reporting_user_errors(fn: Callable[[], T]) -> T:
    """Call ``fn``; a user mistake prints one line and exits 2, a bug keeps its traceback."""
    from socio_re.errors import RunInterrupted

    try:
        return fn()
    except UserError as exc:
        _report(str(exc) if str(exc).startswith("config error") else f"error: {exc}",
                exc.exit_code)
    except RunInterrupted as exc:
        _report(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _report("interrupted", 130)
    except Exception as exc:
        line = hydra_error_line(exc)
        if line is None:
            raise
        _report(line, 2)
