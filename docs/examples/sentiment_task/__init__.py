"""sentiment: is a short text positive or negative? A sequence-classification task kept in
its own package, outside socio_re (docs/adding-a-task.md walks through it)."""

from socio_re.config.task_contract import TaskSpec

TASK = TaskSpec(
    name="sentiment",
    package=__name__,
    one_line="positive or negative, for a short text (jsonl: text, label)",
    objective="val/accuracy",
    direction="maximize",
    headline_metrics=("val/accuracy", "test/accuracy"),
    table_scores=("accuracy",),
    model_kind="classifier",
    evaluate_hook=f"{__name__}.evaluate:main",
)
