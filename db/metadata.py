"""Imports every package's models so the metadata (for Alembic and tests) is complete."""

from __future__ import annotations

import analytics.models
import approvals.models
import audit.models
import auth.models
import cases.models
import compliance.models
import core.models
import dialer.models
import hooks.models
import recordings.models
from db.base import Base

MODEL_MODULES = (
    analytics.models, approvals.models, audit.models, auth.models, cases.models, compliance.models, core.models,
    dialer.models, hooks.models, recordings.models,
)
target_metadata = Base.metadata
