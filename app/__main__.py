"""``python -m app`` runs the callguard command."""

from app.cli import main

raise SystemExit(main())
