from tests.support.db_support import database  # noqa: F401
