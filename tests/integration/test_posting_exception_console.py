"""The console's item page tells what carrying a posting item's resolution out did, from the same record
`carecycle tasks show` reads (``resolution.applied``, written by the PostingException workflow's activity in the
transaction that posts): applied with its outcome, refused with why, or plainly not yet carried out.
(The resolution itself goes through the same ``resolve`` Update as the CLI's: tests/integration/test_stack_console.py
and test_posting_exception_workflows.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from console.accounts import Role, add_user
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from tests.integration.test_console_auth import PASSWORD, Console, _serve, sign_in

APPLIED = {"state": "applied", "action": "post_manually", "outcome": "posted 90.00 to claim c-1 (claim now paid)"}


def _posting_item(session: Session, item_id: str, applied: dict[str, Any] | None) -> None:
    session.add(
        m.WorkItem(
            id=item_id,
            queue="posting",
            reason_code="unmatched_remittance",
            summary="remittance TRC1 claim payment 0: unmatched",
            entity_type="remittance",
            entity_id=str(uuid.uuid4()),
            workflow_id=f"posting-exception-{item_id}",
            dedupe_key=f"posting:SBX:TRC1:{item_id}:unmatched",
            sla_due_at=datetime.now(UTC) + timedelta(days=1),
            state="resolved",
            resolution_action="post_manually",
            resolved_by="ann",
            resolved_at=datetime.now(UTC),
            resolution={"fields": {"claim_id": "c-1"}, **({"applied": applied} if applied else {})},
        )
    )


@pytest.fixture
def store(sqlite_url: str) -> sessionmaker[Session]:
    factory = make_session_factory(make_engine(sqlite_url))
    with factory() as session:
        add_user(session, "ann", Role.BILLER, PASSWORD)
        _posting_item(session, "wi-applied", APPLIED)
        _posting_item(session, "wi-applying", None)
        session.commit()
    return factory


@pytest.fixture
async def console(store: sessionmaker[Session]) -> AsyncIterator[Console]:
    async for served in _serve(store):
        yield served


async def test_the_item_page_says_what_was_carried_out_or_that_it_is_not_yet(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as ann:
        assert (await sign_in(ann, "ann")).status_code == 303
        applied = await ann.get("/work-items/wi-applied")
        assert applied.status_code == 200
        assert "Carried out" in applied.text and "applied: posted 90.00 to claim c-1 (claim now paid)" in applied.text
        applying = await ann.get("/work-items/wi-applying")
        assert applying.status_code == 200
        assert "not yet: its workflow is carrying the resolution out" in applying.text
        assert "applied: posted" not in applying.text
