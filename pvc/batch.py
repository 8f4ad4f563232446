"""Batch execution (``pvc run --batch N``): a sliding window of N minions at a time.

Like Salt's batch mode: the connected targeted minions are run N at a time, and as soon as one
returns the next one starts, so one slow minion does not hold up a whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pvc.client import Client, ReturnStream
from pvc.results import NOT_CONNECTED, JobResult, Return
from pvc.wire.local import Done, RetReply


def run_batch(client: Client, tgt: str, tgt_type: str, fun: str, args: Sequence[Any],
              kwargs: Mapping[str, Any], timeout: float | None, size: int) -> ReturnStream:
    expected, connected = client.expected(tgt, tgt_type)
    result = JobResult("batch", expected)
    result.missing.update({mid: NOT_CONNECTED for mid in expected if mid not in connected})
    wait = (timeout if timeout is not None else client.cfg.timeout) + 2.0

    def returns() -> Iterator[tuple[str, Return]]:
        queue = list(connected)
        inflight: dict[str, str] = {}
        while queue or inflight:
            while queue and len(inflight) < size:
                mid = queue.pop(0)
                inflight[client.run_async([mid], fun, args, kwargs, timeout=timeout)] = mid
            msg = client.next_message(wait)
            if msg is None:
                result.mark_timed_out()
                return
            owner = inflight.get(msg.jid) if isinstance(msg, (RetReply, Done)) else None
            if owner is None:
                continue
            if isinstance(msg, RetReply):
                ret = msg.ret.value()
                result.returns[owner] = ret
                yield owner, ret
            elif isinstance(msg, Done):
                result.missing.update(msg.missing)
                del inflight[msg.jid]

    return ReturnStream(returns(), result)
