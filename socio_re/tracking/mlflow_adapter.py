"""Every use of a private name of MLflow's SQL store (``mlflow.store.db.utils``): the only module
that touches one.

:mod:`socio_re.tracking.store` creates, repairs and upgrades a local sqlite store under a file
lock, which MLflow offers no public call for: its own path (``SqlAlchemyStore.__init__``) does it
with no lock between processes. When an MLflow upgrade renames one of these helpers, the store
breaks here, in one place, and tests/test_library_adapters.py names the function that went
missing. pyproject.toml bounds ``mlflow`` below its next major version for the same reason.

No module-level import of mlflow: importing the tracking package stays light.
"""

from __future__ import annotations

from typing import Any

# Where MLflow's helpers live; its log lines about schema upgrades come from this logger too.
DB_UTILS = "mlflow.store.db.utils"


def latest_schema_revision() -> str:
    """The alembic revision this MLflow version creates and expects."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def sqlite_engine(uri: str) -> Any:
    """MLflow's SQLAlchemy engine for a store URI (retries while the database is busy)."""
    from mlflow.store.db.utils import create_sqlalchemy_engine_with_retry

    return create_sqlalchemy_engine_with_retry(uri)


def create_missing_tables(engine) -> None:
    """MLflow's path for a store with tables missing: create them from its initial models, then
    upgrade to the latest revision (``_initialize_tables``)."""
    from mlflow.store.db.utils import _initialize_tables

    _initialize_tables(engine)


def upgrade_schema(engine) -> None:
    """Run MLflow's alembic migrations up to the latest revision (``_upgrade_db``)."""
    from mlflow.store.db.utils import _upgrade_db

    _upgrade_db(engine)
