"""Imports every domain's tables so `Base.metadata` is complete for Alembic and the tests.

Each domain adds its models module here when it gains tables.
"""

import catalog.models  # noqa: F401
import exchange.access.models
import exchange.audit.models
import exchange.ingest.models  # noqa: F401
import licences.models  # noqa: F401
from exchange.store.base import Base

metadata = Base.metadata
