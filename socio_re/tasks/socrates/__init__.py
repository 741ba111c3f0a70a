"""socrates: predict how a described person answers a social-science experiment question
(SocSci210): causal-LM SFT, scored by distributional alignment, accuracy, correlation, MAE."""

from socio_re.config.task_contract import TaskSpec

TASK = TaskSpec(
    name="socrates",
    package="socio_re.tasks.socrates",
    one_line="how a described person answers a survey-experiment question (SocSci210)",
    # The validation W1 when the validation split is scored, else the validation loss.
    objective="val/wasserstein or val/loss",
    direction="minimize",
    headline_metrics=("val/loss", "val/wasserstein", "test/wasserstein", "test/accuracy",
                      "test/mae_normalized"),
    table_scores=("wasserstein", "loss"),
    model_kind="causal_lm",
    evaluate_hook="socio_re.tasks.socrates.commands:evaluate_main",
    predict_hook="socio_re.tasks.socrates.commands:predict_main",
    source_digest_hook="socio_re.tasks.socrates.hooks:source_digest",
    run_tags_hook="socio_re.tasks.socrates.hooks:run_tags",
    data_splits_hook="socio_re.tasks.socrates.run:data_splits",
    tokenizer_corpora={"socsci": "socio_re.tasks.socrates.data.sample:tokenizer_corpus"},
)
