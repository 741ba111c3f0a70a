"""Scoring a model that was already fine-tuned on SocSci210 on a split the project drew itself
warns that its test studies may be in the model's training data (issue: released Socrates
models scored with train=false on hash-drawn "unseen" studies)."""

from __future__ import annotations

import pytest
from conftest import compose

from socio_re.config.validate import validate_config
from socio_re.tasks.socrates.run import contamination_warning


def _warning(*overrides: str) -> str | None:
    return contamination_warning(validate_config(compose(["task=socrates", *overrides])))


@pytest.mark.parametrize("model", [["model.trained_on=[socsci210]"],
                                   ["model.name_or_path=socratesft/socrates-qwen2.5-14b"]])
def test_a_socsci_trained_model_scored_on_a_drawn_split_warns(model):
    message = _warning("train=false", *model)
    assert message and "data.split.kind=official" in message and "unseen_studies" in message


@pytest.mark.parametrize("overrides", [
    ["train=false", "model.trained_on=[socsci210]", "data.split.kind=official"],
    ["train=true", "model.trained_on=[socsci210]"],  # fine-tuning again: its own split
    ["train=false"],                                 # a model not known to have seen the data
])
def test_no_warning_where_the_split_cannot_overlap_or_nothing_is_known(overrides):
    assert _warning(*overrides) is None
