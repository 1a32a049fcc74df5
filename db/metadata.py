"""Imports every package's models so the metadata (for Alembic and tests) is complete."""

from __future__ import annotations

import auth.models
import compliance.models
import core.models
import dialer.models
import recordings.models  # noqa: F401 - recordings tables
from db.base import Base

MODEL_MODULES = (auth.models, compliance.models, core.models, dialer.models)
target_metadata = Base.metadata
