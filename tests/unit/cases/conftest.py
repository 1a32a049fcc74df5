from tests.unit.cases.db_support import database  # noqa: F401
