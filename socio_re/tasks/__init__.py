"""The tasks: one package each (``config``: its schemas; ``run``: data → model → trainer →
evaluation). The registry is :mod:`socio_re.config.tasks`."""

from socio_re.config.tasks import TASKS, TaskSpec, get_task

__all__ = ["TASKS", "TaskSpec", "get_task"]
