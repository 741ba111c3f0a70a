"""A model that cannot load from the hub is one line saying why, read from huggingface_hub's
error types in the chain transformers raises (it wraps them in an OSError)."""

from __future__ import annotations

import pytest
from huggingface_hub.errors import (
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from socio_re.models.load import _explain_load_failure


def _wrapped(cause: Exception) -> OSError:
    """What transformers raises: an OSError with the hub error as its cause."""
    try:
        try:
            raise cause
        except Exception as inner:
            raise OSError("We couldn't load this model; see the message above") from inner
    except OSError as outer:
        return outer


def _http(kind, status: int):
    """An HTTP error of that type without a live response (its constructor wants one from the
    hub's HTTP client; only the type matters here)."""
    error = kind.__new__(kind)
    Exception.__init__(error, f"{status} Client Error: hub says no")
    return error


@pytest.mark.parametrize(("cause", "words"), [
    (_http(GatedRepoError, 403), ["gated", "hf auth login"]),
    (_http(RepositoryNotFoundError, 404), ["neither a local directory nor a model on the hub"]),
    (_http(RevisionNotFoundError, 404), ["model.revision"]),
    (LocalEntryNotFoundError("offline and not cached"), ["cannot download", "hf download"]),
])
def test_each_hub_failure_is_named(cause, words):
    message = str(_explain_load_failure("org/model", _wrapped(cause)))
    assert "\n" not in message
    assert all(w in message for w in words), message


def test_a_broken_local_folder_names_the_folder(tmp_path):
    message = str(_explain_load_failure(str(tmp_path), ValueError("config.json is not JSON")))
    assert str(tmp_path) in message and "config.json is not JSON" in message
