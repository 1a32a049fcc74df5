"""The agent, QA and manager scenarios of ``test_console_browser`` once more, on PostgreSQL.

A module of its own: the PBX's recording spool is shared by the session, and while another service (the SQLite
one of the browser module) was running beside this one, either could take this service's recording from the
spool; then it was filed as an orphan in the wrong database. One service per module runs at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from tests.integration.console.test_console_browser import (
    agent_scenario,
    browser,  # noqa: F401 - the module's browser fixture
    manager_scenario,
    qa_scenario,
    with_passwords,
)
from tests.integration.stack import Stack, service_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pg_stack(pbx: PbxSandbox, phones: PhonesProcess, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Stack]:
    """The service on PostgreSQL."""
    async with service_stack(pbx, tmp_path_factory.mktemp("console-pg"), backend="postgres") as s:
        yield await with_passwords(s)


async def test_the_agent_qa_and_manager_scenarios_on_postgresql(pg_stack: Stack, browser: Browser  # noqa: F811
                                                               ) -> None:
    await agent_scenario(pg_stack, browser, shots=False)
    await qa_scenario(pg_stack, browser, shots=False)
    await manager_scenario(pg_stack, browser, shots=False)
