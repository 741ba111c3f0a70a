"""The task registry: which tasks exist, found, never listed by hand.

A task is found when its package defines ``TASK`` (a :class:`TaskSpec`) in its ``__init__``
and is one of:

- a subpackage of ``socio_re.tasks`` (``socio_re/tasks/<name>/``: the built-in tasks);
- a package named by the ``socio_re.tasks`` entry-point group of an installed distribution
  (``[project.entry-points."socio_re.tasks"] sentiment = "my_pkg.sentiment"``);
- a package named in ``$SOCIO_RE_TASKS`` (comma-separated module names, importable from
  ``PYTHONPATH``): a task kept in a working directory.

Only the packages' ``__init__`` modules are imported (cheap by contract); a task's config and
run modules load when a run of that task needs them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from socio_re.config.task_contract import TaskSpec

ENTRY_POINT_GROUP = "socio_re.tasks"
TASKS_ENV = "SOCIO_RE_TASKS"
BUILTIN_PACKAGE = "socio_re.tasks"
_BUILTIN_DIR = Path(__file__).resolve().parents[1] / "tasks"


def _candidate_packages() -> list[str]:
    names = [f"{BUILTIN_PACKAGE}.{m.name}" for m in pkgutil.iter_modules([str(_BUILTIN_DIR)])
             if m.ispkg]
    from importlib.metadata import entry_points

    names += [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    names += [n.strip() for n in os.environ.get(TASKS_ENV, "").split(",") if n.strip()]
    return list(dict.fromkeys(names))


def discover() -> dict[str, TaskSpec]:
    from socio_re.errors import ConfigError

    found: dict[str, TaskSpec] = {}
    for package in _candidate_packages():
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise ConfigError(TASKS_ENV, package, "importable task packages",
                              f"cannot import it ({exc}); check PYTHONPATH") from None
        spec = getattr(module, "TASK", None)
        if not isinstance(spec, TaskSpec):
            if not package.startswith(BUILTIN_PACKAGE + "."):
                raise ConfigError(TASKS_ENV, package, "a package whose __init__ defines "
                                  "TASK = TaskSpec(...)", "see docs/adding-a-task.md")
            continue  # a helper package under socio_re/tasks/, not a task
        if spec.name in found and found[spec.name].package != spec.package:
            raise ConfigError("task", spec.name, "one package per task name",
                              f"both {found[spec.name].package} and {spec.package} define it")
        found[spec.name] = spec
    return found


class _Registry(Mapping[str, TaskSpec]):
    """``TASKS``: the found tasks by name, discovered on first use (and again when
    ``$SOCIO_RE_TASKS`` changes)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._tasks: dict[str, TaskSpec] = {}

    def _load(self) -> dict[str, TaskSpec]:
        key = os.environ.get(TASKS_ENV, "")
        if self._key != key:
            self._tasks, self._key = discover(), key
        return self._tasks

    def __getitem__(self, name: str) -> TaskSpec:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._load()))

    def __len__(self) -> int:
        return len(self._load())


TASKS = _Registry()


def task_names() -> list[str]:
    return sorted(TASKS)


def get_task(name: object) -> TaskSpec:
    from socio_re.errors import ConfigError

    if not isinstance(name, str) or name not in TASKS:
        raise ConfigError("task", name, ", ".join(task_names()), "choose with task=<name>")
    return TASKS[name]


def task_of_corpus(corpus: str) -> TaskSpec | None:
    """The task that provides the named tokenizer corpus (tiny models' ``corpus``)."""
    return next((s for s in TASKS.values() if corpus in s.tokenizer_corpora), None)


def task_conf_dirs() -> dict[str, Path]:
    """{task: its package's ``conf/`` folder} for tasks outside ``socio_re`` that ship their
    YAML files with them (the built-in tasks' files are in the main ``conf/``)."""
    import importlib.util

    out = {}
    for name, spec in TASKS.items():
        if spec.package.startswith(BUILTIN_PACKAGE + "."):
            continue
        found = importlib.util.find_spec(spec.package)
        locations = list(found.submodule_search_locations or []) if found else []
        for location in locations:
            if (Path(location) / "conf").is_dir():
                out[name] = Path(location) / "conf"
    return out
