"""Column names and the exact Arrow schema of SocSci210 (``socratesft/SocSci210``).

Kept in one place so the sample generator, the loader and the validator agree on what a row is;
the real hub shards are the reference.
"""

from __future__ import annotations

import pyarrow as pa

# The 16 demographic fields, in the order of the hub's struct.
DEMOGRAPHIC_FIELDS: tuple[str, ...] = (
    "age",
    "gender",
    "education",
    "employment",
    "ethnicity",
    "income",
    "party_id",
    "ideology",
    "location",
    "marital_status",
    "household_size",
    "housing_ownership",
    "housing_type",
    "metro_status",
    "internet_access",
    "phone_service",
)
# Demographic fields stored as integers; every other field is a string.
INT_DEMOGRAPHIC_FIELDS: frozenset[str] = frozenset({"age", "household_size"})

# Human-readable labels used in the prompt's bullet list ("- Party ID: Strong Democrat").
DEMOGRAPHIC_LABELS: dict[str, str] = {
    "age": "Age",
    "gender": "Gender",
    "education": "Education",
    "employment": "Employment",
    "ethnicity": "Ethnicity",
    "income": "Income",
    "party_id": "Party ID",
    "ideology": "Ideology",
    "location": "Location",
    "marital_status": "Marital status",
    "household_size": "Household size",
    "housing_ownership": "Housing ownership",
    "housing_type": "Housing type",
    "metro_status": "Metro status",
    "internet_access": "Internet access",
    "phone_service": "Phone service",
}

# Column names, in the hub's order.
SAMPLE_ID = "sample_id"
PARTICIPANT = "participant"
DEMOGRAPHIC = "demographic"
STIMULI = "stimuli"
PROMPT = "prompt"
REASONING = "reasoning"
RESPONSE = "response"
CONDITION_NUM = "condition_num"
TASK_NUM = "task_num"
STUDY_ID = "study_id"

COLUMNS: tuple[str, ...] = (
    SAMPLE_ID,
    PARTICIPANT,
    DEMOGRAPHIC,
    STIMULI,
    PROMPT,
    REASONING,
    RESPONSE,
    CONDITION_NUM,
    TASK_NUM,
    STUDY_ID,
)
# Columns a row cannot do without: training needs the prompt and answer, splitting and metrics
# need the study / condition / task / participant keys. ``demographic`` and ``reasoning`` are
# informative only (the profile is already rendered into the prompt).
REQUIRED_COLUMNS: tuple[str, ...] = (
    SAMPLE_ID,
    PARTICIPANT,
    STIMULI,
    PROMPT,
    RESPONSE,
    CONDITION_NUM,
    TASK_NUM,
    STUDY_ID,
)
INT_COLUMNS: tuple[str, ...] = (SAMPLE_ID, PARTICIPANT, RESPONSE, CONDITION_NUM, TASK_NUM)
STRING_COLUMNS: tuple[str, ...] = (STIMULI, PROMPT, REASONING, STUDY_ID)

DEMOGRAPHIC_TYPE = pa.struct(
    [
        pa.field(name, pa.int64() if name in INT_DEMOGRAPHIC_FIELDS else pa.string())
        for name in DEMOGRAPHIC_FIELDS
    ]
)

SCHEMA = pa.schema(
    [
        pa.field(SAMPLE_ID, pa.int64()),
        pa.field(PARTICIPANT, pa.int64()),
        pa.field(DEMOGRAPHIC, DEMOGRAPHIC_TYPE),
        pa.field(STIMULI, pa.string()),
        pa.field(PROMPT, pa.string()),
        pa.field(REASONING, pa.string()),
        pa.field(RESPONSE, pa.int64()),
        pa.field(CONDITION_NUM, pa.int64()),
        pa.field(TASK_NUM, pa.int64()),
        pa.field(STUDY_ID, pa.string()),
    ]
)

SYSTEM_PROMPT = (
    "You are simulating a survey respondent. Answer exactly as instructed, following the "
    "specified response format without additional commentary."
)


def answer_format_sentence(low: int, high: int) -> str:
    """The closing sentence of every stimulus, which states the answer scale."""
    return f"Only return an integer from {low} to {high}, nothing else."
