"""No credential reaches MLflow params: by key name (any ``*_token``, password, secret, ...)
or by the shape of the value (hub, OpenAI, GitHub, AWS keys, URL passwords)."""

from __future__ import annotations

import pytest

from socio_re.tracking.params import REDACTED, config_params, is_secret


@pytest.mark.parametrize("key", ["model.hf_token", "hub_token", "tracking.api_token",
                                 "access_token", "db.password", "wandb.api_key", "aws.secret",
                                 "client_secret", "auth_header", "credentials"])
def test_secret_keys_are_redacted(key):
    assert is_secret(key)
    assert config_params({key: "anything"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["task.eval.max_new_tokens", "model.pad_token", "eos_token_id",
                                 "tokenizer", "trainer.max_tokens", "data.author",
                                 "task.eval.reasoning_max_new_tokens"])
def test_settings_that_mention_tokens_are_kept(key):
    assert not is_secret(key)
    assert config_params({key: 8}) == {key: "8"}


@pytest.mark.parametrize("value", [
    "hf_abcdefghijklmnopqrstuvwxyz12",
    "sk-proj-abcdefghijklmnop1234",
    "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "AKIAABCDEFGHIJKLMNOP",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkw.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
])
def test_credential_shaped_values_are_redacted_under_any_key(value):
    params = config_params({"model": {"note": f"use {value} here"}})
    assert value not in params["model.note"] and REDACTED in params["model.note"]


def test_url_password_is_redacted_but_the_rest_of_the_url_kept():
    params = config_params({"tracking": {"uri": "postgresql://me:s3cr3t@db.lab:5432/mlflow"}})
    assert params["tracking.uri"] == f"postgresql://me:{REDACTED}@db.lab:5432/mlflow"


def test_plain_values_pass_unchanged():
    cfg = {"model": {"name_or_path": "Qwen/Qwen2.5-14B-Instruct"}, "seed": 42,
           "tracking": {"uri": "sqlite:///mlflow.db"}}
    assert config_params(cfg) == {"model.name_or_path": "Qwen/Qwen2.5-14B-Instruct",
                                  "seed": "42", "tracking.uri": "sqlite:///mlflow.db"}
