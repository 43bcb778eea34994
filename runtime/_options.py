"""LangGraph options lograph does not implement yet: refused by name, never ignored.

Every public call takes only the keywords it implements (Python refuses any other with
TypeError naming it). LangGraph's keywords for features lograph lacks are taken by name
only to be refused here, before anything is written, with NotImplementedError naming
the feature: a program written for LangGraph fails loudly instead of running otherwise.
A keyword left at LangGraph's default (None, False, an empty tuple) asks for nothing.
"""

from __future__ import annotations

from typing import Any

_FEATURES = {
    "metadata": "node metadata (add_node(metadata=...))",
    "output_keys": "output_keys (output_schema= is implemented)",
    "task_id": "update_state(task_id=...)",
    "checkpoint_during": "checkpoint_during (use durability='exit'|'async'|'sync')",
}


def refuse_unimplemented(where: str, **given: Any) -> None:
    """NotImplementedError for the first of ``given`` (keyword: value) that asks for a
    LangGraph feature lograph does not have; nothing for defaults."""
    for name, value in given.items():
        if value is None or value is False or (isinstance(value, tuple | list) and not value):
            continue
        raise NotImplementedError(
            f"{where}({name}=...): {_FEATURES[name]} is not implemented in lograph yet; "
            f"leave {name} out (the README lists what lograph does not do)"
        )
