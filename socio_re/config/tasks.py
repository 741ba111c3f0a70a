"""Task registry (part of the config layer: it names each task's config and run modules,
imported by name only when needed).

Each task is a package with a ``config`` module (dataclass schemas for its ``task`` and ``data``
sections; cheap to import) and a ``run`` module (the heavy data → model → trainer → eval path,
imported only when a run starts).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class TaskSpec:
    name: str
    package: str

    def config_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.config")

    def run_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.run")


TASKS: dict[str, TaskSpec] = {
    "socrates": TaskSpec("socrates", "socio_re.tasks.socrates"),
    "relext": TaskSpec("relext", "socio_re.tasks.relext"),
}


def get_task(name: object) -> TaskSpec:
    from socio_re.errors import ConfigError

    if not isinstance(name, str) or name not in TASKS:
        raise ConfigError("task", name, ", ".join(sorted(TASKS)), "choose with task=<name>")
    return TASKS[name]
