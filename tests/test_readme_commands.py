"""The README's commands exit as the README says (the quick ones here: help, config, every
documented one-line error; `python scripts/check_readme_commands.py` runs them all)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from check_readme_commands import (  # noqa: E402
    PLANS,
    as_runnable,
    plan_for,
    readme_commands,
)


def test_every_readme_command_has_a_plan_and_the_catch_all_only_runs():
    commands = readme_commands(ROOT / "README.md")
    assert len(commands) > 30
    assert PLANS[-1].pattern == "." and PLANS[-1].kind == "run"
    for command in commands:
        plan = plan_for(command)
        assert plan.kind in ("run", "fails", "skip"), command
        if plan.kind == "skip":
            assert plan.why, command  # a skipped command says why it cannot run here


def test_commands_are_read_as_a_user_would_type_them(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```bash\npython train.py a=1   # comment\npython -m x \\\n"
                      "    --flag \"# not a comment\"\n```\n```\n$ python train.py b=2\n"
                      "config error: ...\n```\n")
    assert readme_commands(readme) == ["python train.py a=1",
                                       'python -m x --flag "# not a comment"',
                                       "python train.py b=2"]
    ran = as_runnable('python -m socio_re.cli.ensemble "multirun/x"/fold=*', {})
    assert ran.endswith(' -m socio_re.cli.ensemble "multirun/x"/fold=*')  # the shell's glob
    assert as_runnable("python -m socio_re.cli.evaluate outputs/socrates/runs/<run>", {}) \
        is None  # no run made yet to stand for <run>


@pytest.mark.slow
def test_quick_readme_commands_exit_as_documented(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_readme_commands.py"),
                          "--quick", "--workdir", str(tmp_path)], capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert " 0 failed" in out.stdout.splitlines()[-1]
