"""relext: multi-sentence biomedical relation extraction (LitCoin / BioRED): entity-pair
classification with entity markers, 5-fold cross-validation, fold ensembling."""

from socio_re.config.task_contract import TaskSpec

TASK = TaskSpec(
    name="relext",
    package="socio_re.tasks.relext",
    one_line="relation type (and novelty) of each entity pair of an abstract (LitCoin/BioRED)",
    objective="val/micro_f1",
    direction="maximize",
    headline_metrics=("val/micro_f1", "test/micro_f1", "test/macro_f1"),
    table_scores=("micro_f1", "macro_f1"),
    model_kind="classifier",
    pool_folds_hook="socio_re.tasks.relext.scoring:pooled_fold_metrics",
    fold_ensemble_hook="socio_re.tasks.relext.fold_ensemble:ensemble_folds",
    data_splits_hook="socio_re.tasks.relext.run:data_splits",
    tokenizer_corpora={"litcoin": "socio_re.tasks.relext.data.sample:tokenizer_corpus"},
)
