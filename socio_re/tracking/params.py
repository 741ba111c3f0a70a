"""Flatten a resolved config into MLflow params: dotted keys, long values cut, secrets dropped."""

from __future__ import annotations

from typing import Any

MAX_PARAM_CHARS = 500
SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


def is_secret(key: str) -> bool:
    leaf = key.rsplit(".", 1)[-1].lower()
    # max_new_tokens, pad_token and the like are settings, not secrets.
    if leaf.endswith(("tokens", "_token")) or leaf in ("pad_token", "tokenizer"):
        return False
    return any(word in leaf for word in SECRET_WORDS)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = obj
    return out


def config_params(resolved: dict[str, Any]) -> dict[str, str]:
    params = {}
    for key, value in flatten(resolved).items():
        if is_secret(key):
            continue
        text = str(value)
        if len(text) > MAX_PARAM_CHARS:
            text = text[: MAX_PARAM_CHARS - 3] + "..."
        params[key] = text
    return params
