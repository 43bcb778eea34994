"""The optional tiers' contracts: each adds a tier's cases to the base port's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ._codec import encode
from ._contract import APPEND_BATCH_CASES, EventLogContract, chain
from ._errors import StoreUnavailableError
from ._port import Append, Capability


class HeadLoaderContract(EventLogContract):
    """The ``load_head`` tier (``Capability.LOAD_HEAD``), with the base port's cases."""

    tier = Capability.LOAD_HEAD

    async def test_load_head_answers_like_head_snapshots_and_read(self) -> None:
        events = chain(9)
        async with self.open_log() as log:
            assert await log.load_head("t", 17) == (0, [], [])
            await log.append("t", events, 0)
            assert await log.load_head("t", 17) == (9, [], events)
            for seq in (2, 4, 6):
                await log.put_snapshot("t", seq, f"snap {seq}".encode())
            await log.put_snapshot("other", 5, b"other")
            assert await log.load_head("t", 17) == (
                9, [(6, b"snap 6"), (4, b"snap 4"), (2, b"snap 2")], events[6:])
            assert await log.load_head("t", 2) == (9, [(6, b"snap 6"), (4, b"snap 4")], events[6:])
            assert await log.load_head("t", 0) == (9, [], events)
            assert await log.load_head("nobody", 17) == (0, [], [])
            # a fork above the newest snapshot: every branch's events after it, by seq
            fork = chain(2, start=10, parent=7, parent_hash=events[6].hash, run_id="fork")
            await log.append("t", fork, 9)
            big = encode({"text": "a snapshot that compresses well " * 40}, path="x")
            await log.put_snapshot("t", 8, big)
            for limit in (1, 3, 17):
                head, recent, above = await log.load_head("t", limit)
                assert head == (await log.head_event("t"))[0] == 11
                assert recent == await log.recent_snapshots("t", head, limit)
                assert above == await log.read("t", after=recent[0][0] if recent else 0, upto=head)
            assert (await log.load_head("t", 1))[1:] == ([(8, big)], [events[8], *fork])

    async def test_a_closed_log_refuses_load_head(self) -> None:
        async with self.open_log() as log:
            await log.append("t", chain(1), 0)
            await log.aclose()
            with pytest.raises(StoreUnavailableError, match="closed"):
                await log.load_head("t", 17)


class InlineAppenderContract(EventLogContract):
    """The inline-append tier (``Capability.INLINE_APPENDS``), with the base port's cases:
    ``append_batch(..., inline=True)`` keeps every promise of ``append_batch``."""

    tier = Capability.INLINE_APPENDS

    @pytest.mark.parametrize("inline", [True, False])
    @pytest.mark.parametrize("case", ["isolates a conflict", "an invalid item fails alone",
                                      "items of one thread apply in order"])
    async def test_an_inline_append_batch_keeps_the_contract(self, case: str, inline: bool) -> None:
        async with self.open_log() as log:

            async def append_batch(batch: Sequence[Append]) -> Any:
                return await log.append_batch(batch, inline=inline)

            await APPEND_BATCH_CASES[case](log, append_batch)

    async def test_a_closed_log_refuses_an_inline_append(self) -> None:
        async with self.open_log() as log:
            await log.aclose()
            with pytest.raises(StoreUnavailableError, match="closed"):
                await log.append_batch([Append("t", tuple(chain(1)), 0)], inline=True)
