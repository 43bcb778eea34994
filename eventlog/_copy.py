"""A thread's log copied into another thread id: re-sealed there, its ids kept.

Chains of version 3 and 4 are bound to their thread id (see ``_event``), so a log moved
to another id as it is no longer verifies there. A copy is made on purpose, by someone
who can seal (the key, for a keyed chain): every event is re-sealed after the new
thread's genesis, and each checkpoint event records the id hash it had in the source
(its body's ``id``), from which its checkpoint id and the ids derived from it (task ids,
interrupt ids, message ids made by reducers) come. So the copy's checkpoints keep their
ids, as LangGraph's ``copy_thread`` keeps them, and a pending interrupt in the copy is
answered as in the source. The source's chain is verified first: a copy never launders
a tampered log into a fresh valid chain.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._audit import verify_chain
from ._codec import decode, encode
from ._errors import CorruptLogError
from ._event import GENESIS, KEYED_VERSIONS, Event, Kind, Seal, make_event
from ._fold import ID_KEY, id_hash

__all__ = ["copy_events"]

def _with_id(body: bytes, alias: bytes) -> bytes:
    """A checkpoint body with ``id`` set to ``alias``. The other bytes stay as they were:
    the map's values need not be decoded, so a copy needs none of the application's
    classes."""
    head = body[0] if body else 0
    if 0xA0 <= head < 0xB7:  # a map of up to 22 entries (lograph's bodies), extended in place
        return bytes((head + 1,)) + body[1:] + ID_KEY + alias
    return encode({**decode(body), "id": alias})


def copy_events(source: str, target: str, events: Sequence[Event], seal: Seal) -> list[Event]:
    """``events`` (a thread's whole log, every branch, by seq) re-sealed into ``target``:
    same seqs, parents, headers and bodies, checkpoints carrying their source ids.

    Keyed (version 4) when the source's chain is keyed, else version 3. CorruptLogError
    (naming the row) when the source's chain does not verify under ``seal``."""
    report = verify_chain(source, events, limit=1, bodies=False, seal=seal)
    if report.first is not None:
        p = report.first
        raise CorruptLogError(source, p.seq, f"copy_thread refuses to copy it: {p.reason}")
    key = seal.key if report.version in KEYED_VERSIONS else None
    hashes = {0: seal.genesis(target) if key is not None else Seal().genesis(target)}
    out = []
    for e in events:
        body = e.body
        if e.kind == Kind.CHECKPOINT and id_hash(e) is e.hash:  # (a copy's copy keeps its ids)
            body = _with_id(body, e.hash)
        new = make_event(hashes.get(e.parent, GENESIS), seq=e.seq, parent=e.parent, kind=e.kind,
                         run_id=e.run_id, step=e.step, task_id=e.task_id, ns=e.ns, ts=e.ts,
                         body=body, key=key)
        hashes[e.seq] = new.hash
        out.append(new)
    return out
