"""Imports every package's models so the metadata (for Alembic and tests) is complete."""

from __future__ import annotations

import analytics.models
import approvals.models
import audit.models
import auth.models
import callbacks.models
import campaigns.models
import cases.models
import clients.models
import compliance.models
import core.models
import dialer.models
import hooks.models
import monitor.models
import payments.models
import presence.models
import recordings.models
from db.base import Base

MODEL_MODULES = (
    analytics.models, approvals.models, audit.models, auth.models, callbacks.models, campaigns.models,
    cases.models, clients.models, compliance.models, core.models, dialer.models, hooks.models, monitor.models,
    payments.models, presence.models, recordings.models,
)
target_metadata = Base.metadata
