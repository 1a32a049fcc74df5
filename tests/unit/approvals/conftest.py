"""Fixtures: a database on each backend."""

from tests.support.db_support import database  # noqa: F401 - the fixture
