"""Turn user mistakes into one line on stderr and exit code 2, from any entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

from socio_re.errors import UserError

T = TypeVar("T")

# Set to 1 to see the traceback behind an OS-level error's one line (debugging).
TRACEBACK_ENV = "SOCIO_RE_TRACEBACK"

def _close_progress_bars() -> None:
    """Clear any progress bar still on screen, so the error is the last line, not a bar
    redrawn after it."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.leave = False
        bar.close()


def _report(line: str, code: int):
    from socio_re.errors import ReportedExit

    _close_progress_bars()
    print(line, file=sys.stderr)
    raise ReportedExit(code, line)  # a SystemExit: the process ends with ``code``


def _config_file_in(tb) -> str | None:
    """The config file Hydra was reading when ``tb`` was raised (its file source's
    ``full_path``): YAML and decoding errors know only a stream, not the file."""
    import traceback

    found = None
    for frame, _ in traceback.walk_tb(tb):
        if "full_path" in frame.f_locals and frame.f_code.co_name == "load_config":
            found = str(frame.f_locals["full_path"])
    return found


def config_file_error_line(exc: BaseException) -> str | None:
    """One line for a config file that cannot be read: a YAML syntax error (with its line) or
    a file that is not UTF-8."""
    import yaml

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (yaml.YAMLError, UnicodeDecodeError)):
            path = _config_file_in(exc.__traceback__) or "a config file"
            if isinstance(exc, UnicodeDecodeError):
                return (f"config error: cannot read {path}: not UTF-8 text (byte "
                        f"0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8")
            # The context ("while parsing a flow sequence" at the unclosed "[") points at the
            # mistake; the problem mark often at where the parser gave up (the file's end).
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else path
            problem = " ".join(" ".join(str(part) for part in (
                getattr(exc, "context", None), getattr(exc, "problem", None)) if part).split()) \
                or " ".join(str(exc).split())
            return f"config error: cannot parse {where}: {problem} (a YAML syntax error)"
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


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
    if isinstance(exc, ValueError) and str(exc).startswith("Config group override must be"):
        return (f"config error: {exc}: a group takes an option's name (trainer=default), a key "
                "inside it a value (trainer.max_steps=3)")
    if isinstance(exc, ValueError) and str(exc).startswith("Only one of --run, --multirun"):
        return f"usage error: {exc} (e.g. drop -m to print the config with --cfg job)"
    return config_file_error_line(exc)


def run_reporting_user_errors(fn: Callable[[], T]) -> T:
    """Call ``fn``; a user mistake prints one line and exits 2, an OS-level failure (a path
    that cannot be written, a full disk, a port in use, memory exhausted) one line and exits 1,
    a bug keeps its traceback (as does everything when SOCIO_RE_TRACEBACK=1)."""
    from socio_re.errors import RunInterrupted, environment_problem

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
        if line is not None:
            _report(line, 2)
        problem = environment_problem(exc)
        if problem is None or os.environ.get(TRACEBACK_ENV):
            raise
        _report(f"error: {problem}", problem.exit_code)
