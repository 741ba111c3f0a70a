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
    # "module:function" that scores a cross-validation sweep's folds together from their run
    # directories (a flat metrics dict, e.g. relext's pooled out-of-fold scores); None = none.
    pooled_folds: str | None = None

    def config_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.config")

    def run_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.run")

    def pool_folds(self, run_dirs) -> dict[str, float]:
        """The task's pooled scores of a fold sweep (``{}`` for a task without them)."""
        if not self.pooled_folds:
            return {}
        module, _, function = self.pooled_folds.partition(":")
        return getattr(importlib.import_module(module), function)(run_dirs)


TASKS: dict[str, TaskSpec] = {
    "socrates": TaskSpec("socrates", "socio_re.tasks.socrates"),
    "relext": TaskSpec("relext", "socio_re.tasks.relext",
                       pooled_folds="socio_re.tasks.relext.scoring:pooled_fold_metrics"),
}


def get_task(name: object) -> TaskSpec:
    from socio_re.errors import ConfigError

    if not isinstance(name, str) or name not in TASKS:
        raise ConfigError("task", name, ", ".join(sorted(TASKS)), "choose with task=<name>")
    return TASKS[name]
