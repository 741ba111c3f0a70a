"""Flatten a resolved config into MLflow params: dotted keys, long values cut, secrets redacted."""

from __future__ import annotations

import re
from typing import Any

MAX_PARAM_CHARS = 500
REDACTED = "[redacted]"
SECRET_WORDS = ("token", "password", "passwd", "secret", "api_key", "apikey", "credential",
                "private_key", "auth")
# Leaf names that contain a secret word but are settings: token counts and ids, the
# tokenizer's special tokens, the tokenizer itself.
_SETTING_LEAF = re.compile(
    r"(.*_tokens|(pad|bos|eos|unk|sep|cls|mask)_token(_id)?|.*_token_id|tokenizer.*|"
    r"max_new_tokens|author.*)")
# Values that are credentials whatever their key: Hugging Face, OpenAI-style, GitHub, Slack and
# AWS access keys, JWTs, and the password of a URL (scheme://user:password@host).
_SECRET_VALUE = re.compile(
    r"(\bhf_[A-Za-z0-9]{16,}|\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|"
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|"
    r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)")


def is_secret(key: str) -> bool:
    """A key whose value is a credential by its name (``hf_token``, ``db.password``), not a
    setting that merely contains such a word (``max_new_tokens``, ``pad_token``)."""
    leaf = key.rsplit(".", 1)[-1].lower()
    if _SETTING_LEAF.fullmatch(leaf):
        return False
    return any(word in leaf for word in SECRET_WORDS)


def redact_value(text: str) -> str:
    """``text`` with every credential-shaped part replaced by ``[redacted]``."""
    text = _SECRET_VALUE.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = obj
    return out


def config_params(resolved: dict[str, Any]) -> dict[str, str]:
    """Every leaf of the config as a string param; a secret key keeps its name with the value
    redacted (so the run shows one was set), credential-shaped values are redacted anywhere."""
    params = {}
    for key, value in flatten(resolved).items():
        text = REDACTED if is_secret(key) else redact_value(str(value))
        if len(text) > MAX_PARAM_CHARS:
            text = text[: MAX_PARAM_CHARS - 3] + "..."
        params[key] = text
    return params
