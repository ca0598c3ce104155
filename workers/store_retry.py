"""Activities that lost a SQLite write race run again at once, taking the write lock first.

A deferred SQLite transaction that read before it wrote fails with "database is locked", without waiting, when
another writer committed in between (a stale snapshot cannot be upgraded: ``domain.store.engine``). Left to
Temporal, the activity is retried after the store retry policy's backoff (1 s, 2 s, 4 s...), and under the load
of a busy practice the same race is lost again: in a 100-patient demo about 400 activity attempts failed so and
journeys waited out their retries. Here the activity runs again in the worker straight away with its
transactions beginning IMMEDIATE, so it queues on the busy timeout instead of racing. Nothing of the failed
attempt was written (its transaction rolled back), and an activity is idempotent (Temporal may run it again in
any case), so running it again is what Temporal's retry would have done, sooner. PostgreSQL is not concerned.

An activity that has called an outside system (the clearinghouse took the 837P, the vendor took the message)
records the answer through ``domain.store.engine.recorded_after_side_effect``: a race lost there reruns that one
unit, never the call, which a rerun from here would make a second time.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.store.engine import is_sqlite_busy, sqlite_write_lock_first

log = logging.getLogger(__name__)


class _RetryBusyActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as exc:
            if not is_sqlite_busy(exc):
                raise
        log.info(
            "activity lost a SQLite write race: run again with the write lock first",
            extra={"activity_type": activity.info().activity_type},
        )
        with sqlite_write_lock_first():
            return await self.next.execute_activity(input)


class SqliteBusyRetryInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RetryBusyActivity(next)
