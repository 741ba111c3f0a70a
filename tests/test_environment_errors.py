"""OS-level failures (a run directory that cannot be written, a full disk, the rendezvous port
in use, memory exhausted) end in one line naming the path or resource and the fix, exit 1, no
traceback, and no half-made run directory."""

from __future__ import annotations

import errno
import os
import socket
import subprocess

import pytest

from socio_re.errors import EnvironmentProblem, environment_problem
from tests.conftest import run_train


def _one_line(out) -> str:
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return out.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(("exc", "words"), [
    (PermissionError(errno.EACCES, "Permission denied", "/data/runs"),
     ["permission denied: /data/runs", "hydra.run.dir="]),
    (OSError(errno.ENOSPC, "No space left on device", "/scratch/x.pt"),
     ["no space left on the device: /scratch/x.pt", "free space"]),
    # safetensors and tokenizers are Rust: their I/O errors carry only the errno in the text
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
     ["no space left on the device", "hydra.run.dir"]),
    (OSError(errno.EADDRINUSE, "Address already in use"), ["address already in use",
                                                           "MASTER_PORT"]),
    (MemoryError(), ["out of memory", "per_device_train_batch_size"]),
])
def test_each_os_failure_is_one_line_with_the_fix(exc, words):
    problem = environment_problem(exc)
    assert isinstance(problem, EnvironmentProblem) and problem.exit_code == 1
    assert all(w in str(problem) for w in words), str(problem)
    assert "\n" not in str(problem)


def test_a_bug_raised_while_handling_an_os_error_keeps_its_traceback():
    try:
        try:
            open("/nonexistent/file")  # noqa: SIM115
        except OSError:
            raise KeyError("a bug") from None
    except KeyError as exc:
        assert environment_problem(exc) is None
    assert environment_problem(ValueError("a bug")) is None


def _unwritable(tmp_path):
    """A directory this process cannot create: /sys refuses even root."""
    if os.geteuid() == 0:
        return "/sys/socio_re_run"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    return str(locked / "run")


def test_an_unwritable_run_directory_is_one_line(tmp_path):
    target = _unwritable(tmp_path)
    line = _one_line(run_train(["tracking=none", f"hydra.run.dir={target}"], tmp_path))
    assert target in line and "hydra.run.dir=" in line, line


def test_a_file_where_the_run_directory_should_be_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "run"
    line = _one_line(run_train(["tracking=none", f"hydra.run.dir={target}"], tmp_path))
    assert "not a directory" in line and str(tmp_path / "afile") in line, line


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB file system: the run fills it at its first checkpoint."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_never_marks_the_run_done(tmp_path, tiny_disk):
    run_dir = tiny_disk / "run"
    out = run_train(["debug=smoke", "tracking=none", "task.eval.compare_base=false",
                     f"hydra.run.dir={run_dir}"], tmp_path)
    line = _one_line(out)
    assert "no space left on the device" in line, line
    assert not (run_dir / "done.json").exists() and not (run_dir / "model").exists()


def test_the_rendezvous_port_in_use_is_one_line_and_leaves_no_run_folder(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run_dir = tmp_path / "run"
        out = run_train(["strategy=ddp", "debug=smoke", "tracking=none",
                         f"hydra.run.dir={run_dir}"], tmp_path, env={"MASTER_PORT": str(port)})
    line = _one_line(out)
    assert "address already in use" in line and f"port {port}" in line, line
    assert "MASTER_PORT" in line
    assert not run_dir.exists()
