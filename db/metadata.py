"""Imports every package's models so the metadata (for Alembic and tests) is complete."""

from __future__ import annotations

import auth.models
import cases.models, hooks.models  # noqa: E401, I001 - feature tables (cases, hooks)
import compliance.models
import core.models
import dialer.models
from db.base import Base

MODEL_MODULES = (auth.models, compliance.models, core.models, dialer.models)
target_metadata = Base.metadata
