"""SocSci210: schema, synthetic sample, loading, cleaning and held-out splits."""

from socio_re.tasks.socrates.data.load import dataset_fingerprint, load_socsci
from socio_re.tasks.socrates.data.sample import generate_sample
from socio_re.tasks.socrates.data.schema import (
    COLUMNS,
    DEMOGRAPHIC_FIELDS,
    REQUIRED_COLUMNS,
    SCHEMA,
    SYSTEM_PROMPT,
)
from socio_re.tasks.socrates.data.splits import (
    HASH_SPLIT_KINDS,
    SPLIT_KINDS,
    check_disjoint,
    make_splits,
)
from socio_re.tasks.socrates.data.validate import clean_rows

__all__ = [
    "COLUMNS",
    "DEMOGRAPHIC_FIELDS",
    "HASH_SPLIT_KINDS",
    "REQUIRED_COLUMNS",
    "SCHEMA",
    "SPLIT_KINDS",
    "SYSTEM_PROMPT",
    "check_disjoint",
    "clean_rows",
    "dataset_fingerprint",
    "generate_sample",
    "load_socsci",
    "make_splits",
]
