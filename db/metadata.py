"""Imports every package's models so the metadata (for Alembic and tests) is complete."""

from __future__ import annotations

import analytics.models  # noqa: F401  (rollup tables; created by analytics.schema.install_sync)
import auth.models
import core.models
import dialer.models
from db.base import Base

MODEL_MODULES = (auth.models, core.models, dialer.models)
target_metadata = Base.metadata
