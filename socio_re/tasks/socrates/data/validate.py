"""Drop malformed SocSci210 rows, vectorised so that the full 2.9M-row set takes seconds.

A handful of bad rows in millions should not stop a run, but a file that is mostly broken (wrong
columns mapped, a bad export) should: hence the ``data.max_malformed_fraction`` threshold.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.socrates.data.schema import (
    INT_COLUMNS,
    PROMPT,
    REQUIRED_COLUMNS,
    RESPONSE,
    STIMULI,
    STUDY_ID,
)

logger = logging.getLogger(__name__)


def clean_rows(df: pd.DataFrame, *, max_malformed_fraction: float) -> tuple[pd.DataFrame, dict]:
    """Return ``(clean_df, report)`` with malformed rows removed.

    Each malformed row is counted under the *first* reason that applies, in this order:
    ``missing_<column>``, ``non_integer_<column>`` (response and the id/number columns),
    ``non_string_<column>`` (prompt, stimuli, study_id), ``empty_prompt`` / ``empty_stimuli``;
    so ``sum(by_reason.values()) == malformed``. Integer columns come out as int64, text columns
    as strings; the index is reset.
    """
    check_threshold_arg(max_malformed_fraction)
    if len(df) == 0:
        raise DataError("the dataset has 0 rows; check data.path")
    out, report = clean_batch(df)
    enforce_threshold(report, max_malformed_fraction)
    return out, report


def check_threshold_arg(max_malformed_fraction) -> None:
    if (
        isinstance(max_malformed_fraction, bool)
        or not isinstance(max_malformed_fraction, (int, float))
        or not 0.0 <= max_malformed_fraction <= 1.0
    ):
        raise ConfigError(
            "data.max_malformed_fraction", max_malformed_fraction, "a number in [0, 1]"
        )


def clean_batch(df: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """:func:`clean_rows` without the threshold: for one batch of a stream, whose reports are
    added up with :func:`merge_reports` and checked once at the end."""
    reason, ints = _reasons(df)
    total = len(df)
    bad_rows = (reason != "").to_numpy()
    malformed = int(bad_rows.sum())
    by_reason = {str(k): int(v) for k, v in reason[bad_rows].value_counts().sort_index().items()}
    report = {
        "total": total,
        "kept": total - malformed,
        "malformed": malformed,
        "by_reason": by_reason,
    }

    # Copying millions of prompts costs seconds, so only filter / convert what needs it.
    keep = ~bad_rows
    out = (df.loc[keep] if malformed else df).copy(deep=False)
    for col, values in ints.items():
        if out[col].dtype != np.int64:
            out[col] = values[keep].astype("int64").to_numpy()
    for col in (PROMPT, STIMULI, STUDY_ID):
        if pd.api.types.is_object_dtype(out[col].dtype):
            out[col] = out[col].astype("str")
    return out.reset_index(drop=True), report


def _reasons(df: pd.DataFrame) -> tuple[pd.Series, dict[str, pd.Series]]:
    """Each row's first reason to be malformed ("" for a good row), and the integer columns
    converted."""
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing_cols:
        raise DataError(f"cannot validate rows: missing column(s) {', '.join(missing_cols)}")
    reason = pd.Series(np.full(len(df), "", dtype=object), index=df.index)
    ints: dict[str, pd.Series] = {}
    for check, col in _checks():
        bad, value = check(df[col])
        if value is not None:
            ints[col] = value
        # Rows already flagged keep their first reason.
        reason = reason.mask(bad & (reason == ""), _reason_name(check, col))
    return reason, ints


def first_malformed(df: pd.DataFrame) -> tuple[int, str] | None:
    """``(position, reason)`` of the first malformed row of ``df``, or None: for an error
    message that points at a row (a batch is checked again only when it had malformed rows)."""
    reason = _reasons(df)[0].to_numpy()
    bad = np.flatnonzero(reason != "")
    return (int(bad[0]), str(reason[bad[0]])) if bad.size else None


def merge_reports(reports: list[dict]) -> dict:
    """The report of a whole stream from the reports of its batches."""
    by_reason: dict[str, int] = {}
    for r in reports:
        for k, v in r["by_reason"].items():
            by_reason[k] = by_reason.get(k, 0) + v
    return {
        "total": sum(r["total"] for r in reports),
        "kept": sum(r["kept"] for r in reports),
        "malformed": sum(r["malformed"] for r in reports),
        "by_reason": dict(sorted(by_reason.items())),
    }


# --- checks ----------------------------------------------------------------------------------
# Each check returns (bad mask, converted values or None). Missing values are a separate reason,
# so the type checks treat NA as "not bad" to keep the first-reason order meaningful.


def _missing(s: pd.Series) -> tuple[pd.Series, None]:
    return s.isna(), None


def _non_integer(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers, integer-valued floats (3.0) and integer strings ("3") pass; bools do not."""
    na = s.isna()
    if pd.api.types.is_bool_dtype(s.dtype):
        return ~na, pd.Series(0, index=s.index)
    if pd.api.types.is_integer_dtype(s.dtype):  # the common path: nothing to inspect
        return pd.Series(False, index=s.index), s.fillna(0)
    if pd.api.types.is_float_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        ok = _integral(values)
        return pd.Series(~ok, index=s.index) & ~na, pd.Series(
            np.where(ok, values, 0).astype("int64"), index=s.index
        )
    # object / mixed: bools are ints to Python, so find them by type first.
    is_bool = s.map(lambda v: isinstance(v, (bool, np.bool_)), na_action="ignore")
    is_bool = is_bool.fillna(False).astype(bool)
    numeric = pd.to_numeric(s.where(~is_bool), errors="coerce").astype("float64")
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    ok = _integral(values)
    bad = pd.Series(~ok, index=s.index) & ~na
    exact = pd.to_numeric(s.where(ok & ~is_bool.to_numpy()), errors="coerce")  # no float round
    return bad, exact.fillna(0).astype("int64")


def _integral(values: np.ndarray) -> np.ndarray:
    """Finite, whole and inside int64's range."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) < 2.0**63)


def _non_string(s: pd.Series) -> tuple[pd.Series, None]:
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        return pd.Series(False, index=s.index), None
    return ~_is_str(s) & s.notna(), None


def _empty(s: pd.Series) -> tuple[pd.Series, None]:
    """Empty or whitespace-only text (non-strings were already flagged by ``_non_string``)."""
    if pd.api.types.is_object_dtype(s.dtype):
        s = s.where(_is_str(s)).astype("str")
    # Stripping millions of long prompts copies gigabytes; only texts that start with a space
    # (or are empty) can be blank, so strip just those.
    first = s.str.slice(0, 1)
    candidate = (first.eq("") | first.str.isspace()).fillna(False).astype(bool)
    empty = pd.Series(False, index=s.index)
    if candidate.any():
        empty[candidate] = s[candidate].str.strip().eq("").fillna(False).astype(bool)
    return empty, None


def _is_str(s: pd.Series) -> pd.Series:
    return s.map(lambda v: isinstance(v, str), na_action="ignore").fillna(False).astype(bool)


def _checks() -> list[tuple]:
    """(check, column) pairs in reason-precedence order."""
    checks: list[tuple] = [(_missing, c) for c in REQUIRED_COLUMNS]
    checks += [(_non_integer, c) for c in (RESPONSE, *[c for c in INT_COLUMNS if c != RESPONSE])]
    checks += [(_non_string, c) for c in (PROMPT, STIMULI, STUDY_ID)]
    checks += [(_empty, c) for c in (PROMPT, STIMULI)]
    return checks


def _reason_name(check, col: str) -> str:
    prefix = {
        _missing: "missing",
        _non_integer: "non_integer",
        _non_string: "non_string",
        _empty: "empty",
    }[check]
    return f"{prefix}_{col}"


def enforce_threshold(report: dict, max_fraction: float, first: str | None = None) -> None:
    """Stop above ``max_fraction`` malformed rows, else warn; ``first`` says where the first
    malformed row is (``FILE line N (reason)``), for the error."""
    malformed, total = report["malformed"], report["total"]
    if not malformed:
        return
    reasons = ", ".join(f"{k}: {v}" for k, v in report["by_reason"].items())
    fraction = malformed / total
    if fraction > max_fraction:
        where = f"; the first is {first}" if first else ""
        raise DataError(
            f"{malformed} of {total} rows ({fraction:.2%}) are malformed ({reasons}{where}), "
            f"above data.max_malformed_fraction={max_fraction}; fix the data or raise the "
            "threshold"
        )
    logger.warning(
        "dropped %d of %d malformed rows (%.2f%%): %s", malformed, total, 100 * fraction, reasons
    )
