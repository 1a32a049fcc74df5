"""Fixtures: two service instances over one database."""

from tests.support.cluster import cluster  # noqa: F401 - the fixture
