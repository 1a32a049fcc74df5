"""Developer helper: ``python -m db.revision "message"`` autogenerates a migration from the models."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from db.migrate import alembic_config


def main(message: str) -> None:
    """Autogenerate a revision against a scratch SQLite database at head."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "schema change")
