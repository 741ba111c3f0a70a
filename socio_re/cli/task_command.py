"""Commands that act on a finished run and mean something different per task (evaluate,
predict): read the run's task from its ``config.yaml`` and hand the command line to the
task's hook (``TaskSpec.evaluate_hook`` / ``predict_hook``)."""

from __future__ import annotations

import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.errors import UserError

USAGE = """usage: python -m socio_re.cli.{command} RUN_DIR [options]

{what}
RUN_DIR is a run directory (it holds config.yaml); its task decides the options:
`python -m socio_re.cli.{command} RUN_DIR --help` lists them.
Tasks that have this command: {tasks}.
"""


def _tasks_with(command: str) -> list[str]:
    from socio_re.config.tasks import TASKS

    return [name for name, spec in TASKS.items() if getattr(spec, f"{command}_hook")]


def dispatch(command: str, what: str, argv: list[str]) -> None:
    from socio_re.config.tasks import get_task
    from socio_re.config.validate import load_run_config

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(command=command, what=what,
                           tasks=", ".join(_tasks_with(command)) or "none"))
        return
    run_dir = Path(argv[0])
    spec = get_task(load_run_config(run_dir.resolve()).task.name)
    hook = spec.hook(command)
    if hook is None:
        raise UserError(f"{run_dir} is a {spec.name} run, and task {spec.name} has no "
                        f"{command} command; tasks with one: "
                        f"{', '.join(_tasks_with(command)) or 'none'}")
    hook(argv)


def main_for(command: str, what: str, argv: list[str] | None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_reporting_user_errors(lambda: dispatch(command, what, argv))
