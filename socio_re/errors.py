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
    """Training saved and stopped early on purpose (trainer.stop_at_step, or SLURM's time-limit
    signal); resume with the same command (a requeued SLURM job does).
    Not a mistake and not a crash: exit code 3, the run directory kept for the resume."""

    exit_code = 3


class ReportedExit(SystemExit):
    """The end of a command after its one-line error was printed: ``sys.exit(code)`` that also
    carries the line, so a caller inside the same process (a sweep job) reads it as data."""

    def __init__(self, code: int, line: str):
        super().__init__(code)
        self.line = line


class EnvironmentProblem(UserError):
    """The machine, not the input: a directory that cannot be written, a full disk, a port in
    use, memory exhausted. One line naming the path or resource and the fix; exit code 1."""

    exit_code = 1


# Where a run writes, named in the fix of an error about a path.
_WHERE = ("give a writable place: hydra.run.dir=<dir> for the run, paths.cache_dir=<dir> (or "
          "SOCIO_RE_CACHE_DIR) for the cache")
_SPACE = f"free space there, or {_WHERE}"


def _os_errno(exc: BaseException) -> tuple[int, str] | None:
    """(errno, path) of the OS error behind ``exc``: the exception itself, one it was raised
    from (``raise ... from``), or a Rust library's I/O error ("... (os error 28)": safetensors,
    tokenizers). Not the implicit ``__context__``: a bug raised while handling an OS error is
    still a bug."""
    import re

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno:
            path = str(exc.filename or "")
            return exc.errno, f"{path} -> {exc.filename2}" if exc.filename2 else path
        found = re.search(r"\(os error (\d+)\)", str(exc))
        if found:
            return int(found.group(1)), ""
        exc = exc.__cause__  # type: ignore[assignment]
    return None


def environment_problem(exc: BaseException) -> EnvironmentProblem | None:
    """The one-line :class:`EnvironmentProblem` for an OS-level failure, or None when ``exc``
    is not one (a bug keeps its traceback)."""
    import errno
    import os

    if isinstance(exc, MemoryError):
        return EnvironmentProblem(
            "out of memory on this host: lower trainer.per_device_train_batch_size or "
            "data.max_length, use finetune=lora, or run where more memory is free")
    found = _os_errno(exc)
    if found is None:
        return None
    code, path = found
    fixes = {
        errno.EACCES: ("permission denied", f"{_WHERE}, or fix its permissions"),
        errno.EPERM: ("operation not permitted", _WHERE),
        errno.EROFS: ("read-only file system", _WHERE),
        errno.ENOSPC: ("no space left on the device", _SPACE),
        errno.EDQUOT: ("disk quota exceeded", _SPACE),
        errno.ENOENT: ("no such file or directory", "check the path"),
        errno.ENOTDIR: ("not a directory", "a file is where a directory should be"),
        errno.EISDIR: ("is a directory", "a directory is where a file should be"),
        errno.EADDRINUSE: ("address already in use", "another process holds the port: set "
                           "MASTER_PORT=<a free port>, or stop the other run"),
        errno.EMFILE: ("too many open files", "raise the limit: ulimit -n 65536"),
        errno.ENOMEM: ("out of memory", "lower the batch size, or free memory"),
    }
    label, fix = fixes.get(code, (os.strerror(code).lower(), "an operating-system error"))
    not_a_path = code in (errno.EADDRINUSE, errno.EMFILE, errno.ENOMEM)
    where = f": {path}" if path else "" if not_a_path else \
        " (where this run writes: hydra.run.dir, paths.cache_dir)"
    return EnvironmentProblem(f"{label}{where}; {fix}")
