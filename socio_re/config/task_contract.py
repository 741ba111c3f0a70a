"""The task contract: everything the shared layers (validation, runs, sweeps, compare, the
evaluate / predict / memory commands) may ask of a task, in one typed object.

A task is one package (``socio_re/tasks/<name>/`` or any importable package) whose
``__init__`` defines ``TASK = TaskSpec(...)`` and nothing heavy. The shared layers never name
a task: they look its spec up (:func:`socio_re.config.tasks.get_task`) and call its hooks.
Hooks are ``"module:function"`` strings, imported only when called, so composing a config or
printing ``--help`` never imports torch or a task's run code. The guide is
``docs/adding-a-task.md``.

What each hook receives and returns:

==================  =================================================================  =====
hook                signature                                                          need
==================  =================================================================  =====
``config``          module exporting ``TaskConfig``, ``DataConfig`` (dataclasses) and   yes
                    ``validate(rc)`` (cross-field rules; raise ``ConfigError``)
``run``             ``run(rc, run_dir, tracker) -> TaskResult`` (every rank calls it)   yes
``prepare_shared``  ``(rc) -> None``: build what all ranks read, once, before they start  yes
``data_splits``     ``(rc) -> (root, {split: [files]})``: the provenance's data files   no
``pool_folds``      ``(run_dirs) -> {metric: value}``: a fold sweep scored together      no
``fold_ensemble``   ``(run_dirs, out) -> None``: the fold models combined, into ``out``  no
``evaluate``        ``(argv) -> None``: ``python -m socio_re.cli.evaluate RUN ...``       no
``predict``         ``(argv) -> None``: ``python -m socio_re.cli.predict RUN ...``        no
``source_digest``   ``(rc) -> str``: the data source's content digest (provenance)      no
``run_tags``        ``(rc) -> {tag: value}``: extra MLflow tags of a run                 no
==================  =================================================================  =====

Config classes: ``TaskConfig`` has ``name`` and an ``eval`` section with ``max_rows`` (the
debug profiles ``debug=smoke`` / ``debug=preempt`` cap scoring with it); ``DataConfig`` has
``name`` and ``subset`` (``debug=overfit`` trains on a fraction with it). :func:`check_contract`
says which is missing.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class TaskSpec:
    # The name users type (task=<name>) and the MLflow experiment's default name.
    name: str
    # The task's package: its config module is <package>.config, its run module <package>.run.
    package: str
    # What runs are ranked by (sweeps, compare, Hydra's return value): the run's
    # ``objective`` metric, a copy of this validation metric (a description, e.g.
    # "val/micro_f1"; the run module decides which value it copies), and its direction.
    objective: str
    direction: Direction
    one_line: str = ""
    # Metric columns that compare and the sweep tables show first (a run's result at a glance).
    headline_metrics: tuple[str, ...] = ()
    # Score families the sweep tables show for each split (val/<f>, test/<f>), e.g. "loss".
    table_scores: tuple[str, ...] = ()
    # The model family the task trains: "causal_lm" (loss over the vocabulary) or
    # "classifier" (a small head); the memory estimate depends on it.
    model_kind: Literal["causal_lm", "classifier"] = "classifier"
    # Optional hooks ("module:function", see the table above); None = the task has none.
    pool_folds_hook: str | None = None
    fold_ensemble_hook: str | None = None
    evaluate_hook: str | None = None
    predict_hook: str | None = None
    source_digest_hook: str | None = None
    run_tags_hook: str | None = None
    data_splits_hook: str | None = None
    # Text corpora the offline tiny models train their tokenizers on, by name
    # (``corpus: <name>`` of a tiny model): {name: "module:function () -> list[str]"}.
    tokenizer_corpora: dict[str, str] = field(default_factory=dict)

    # --- modules and hooks -----------------------------------------------------------------

    def config_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.config")

    def run_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.run")

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The function an optional hook names (``None`` when the task has none)."""
        target = getattr(self, f"{name}_hook")
        return resolve_hook(target) if target else None

    def lower_is_better(self) -> bool:
        return self.direction == "minimize"

    # --- the calls the shared layers make --------------------------------------------------

    def run(self, rc, run_dir, tracker):
        return self.run_module().run(rc, run_dir, tracker)

    def prepare_shared(self, rc) -> None:
        self.run_module().prepare_shared(rc)

    def pool_folds(self, run_dirs) -> dict[str, float]:
        """The task's pooled scores of a fold sweep (``{}`` for a task without them)."""
        fn = self.hook("pool_folds")
        return fn(run_dirs) if fn else {}


def resolve_hook(target: str) -> Callable[..., Any]:
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"hook {target!r} is not 'module:function'")
    return getattr(importlib.import_module(module), function)


# What the shared layers set on any task's config (the debug profiles, the CLI).
REQUIRED_TASK_FIELDS = ("name", "eval")
REQUIRED_EVAL_FIELDS = ("max_rows",)
REQUIRED_DATA_FIELDS = ("name", "subset")


def check_contract(spec: TaskSpec) -> list[str]:
    """What the task's package lacks of the contract, one line each (``[]`` = complete)."""
    problems = []
    try:
        mod = spec.config_module()
    except ImportError as exc:
        return [f"{spec.package}.config cannot be imported: {exc}"]
    for attr in ("TaskConfig", "DataConfig", "validate"):
        if not hasattr(mod, attr):
            problems.append(f"{spec.package}.config must export {attr}")
    if problems:
        return problems

    def fields_of(cls) -> dict[str, Any]:
        return {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) \
            else {}

    task_fields, data_fields = fields_of(mod.TaskConfig), fields_of(mod.DataConfig)
    problems += [f"TaskConfig needs a field {f!r}" for f in REQUIRED_TASK_FIELDS
                 if f not in task_fields]
    problems += [f"DataConfig needs a field {f!r}" for f in REQUIRED_DATA_FIELDS
                 if f not in data_fields]
    if "eval" in task_fields:
        ev = task_fields["eval"]
        eval_cls = ev.default_factory if ev.default_factory is not dataclasses.MISSING else None
        if eval_cls is None or not dataclasses.is_dataclass(eval_cls) or not all(
                f in fields_of(eval_cls) for f in REQUIRED_EVAL_FIELDS):
            problems.append("TaskConfig.eval needs a field 'max_rows' (debug=smoke caps "
                            "scoring with task.eval.max_rows)")
    if spec.direction not in ("minimize", "maximize"):
        problems.append(f"direction must be 'minimize' or 'maximize', not {spec.direction!r}")
    return problems
