"""Node names, as LangGraph 1.2.24 takes them: any name but the few the log, the stream
and ``update_state`` give a meaning of their own (``__start__``, ``__end__``,
``__input__``, ``__copy__``, ``__goto__``, ``__interrupt__``), and none with ``|`` or
``:`` (they separate a subgraph's namespace). A node whose name an error handler's node
would take is refused when the graph compiles, naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

from lograph.runtime import END, START, GraphValidationError, NodeError, StateGraph
from tests._stores import open_saver


class Note(TypedDict):
    note: str


def append(text: str) -> Any:
    def run(state: Note) -> dict[str, Any]:
        return {"note": f"{state['note']}>{text}"}
    return run


@pytest.mark.anyio
async def test_a_dunder_name_is_a_node_like_any_other(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    b = StateGraph(Note)
    b.add_node("__private__", append("private"))
    b.add_node("__default_error_handler__", append("mine"))  # no default handler: just a name
    b.add_edge(START, "__private__")
    b.add_edge("__private__", "__default_error_handler__")
    b.add_edge("__default_error_handler__", END)
    config = {"configurable": {"thread_id": "dunder"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        chunks = [c async for c in graph.astream({"note": "in"}, config)]
        assert chunks == [{"__private__": {"note": "in>private"}},
                          {"__default_error_handler__": {"note": "in>private>mine"}}]
        history = [s.next async for s in graph.aget_state_history(config)]
        assert history == [(), ("__default_error_handler__",), ("__private__",), ("__start__",)]
        # an update as that node is shaped as its writes, as any node's
        done = await graph.aupdate_state(config, {"note": "edited"}, as_node="__private__")
        assert (await graph.aget_state(done)).next == ("__default_error_handler__",)


@pytest.mark.parametrize("name", [START, END, "__input__", "__copy__", "__goto__", "__interrupt__"])
def test_names_with_a_meaning_of_their_own_are_refused(name: str) -> None:
    with pytest.raises(GraphValidationError, match=f"node name '{name}' is reserved"):
        StateGraph(Note).add_node(name, append("x"))


@pytest.mark.parametrize("name", ["a|b", "a:b"])
def test_namespace_separators_are_refused_in_names(name: str) -> None:
    with pytest.raises(ValueError, match="reserved character"):
        StateGraph(Note).add_node(name, append("x"))


def test_a_node_named_as_an_error_handlers_node_is_refused_at_compile() -> None:
    def handled(state: Note, error: NodeError) -> dict[str, Any]:
        return {"note": "handled"}

    defaults = (StateGraph(Note).set_node_defaults(error_handler=handled)
                .add_node("__default_error_handler__", append("x"))
                .add_edge(START, "__default_error_handler__"))
    with pytest.raises(ValueError, match="`__default_error_handler__` already exists"):
        defaults.compile()
    own = (StateGraph(Note).add_node("work", append("w"), error_handler=handled)
           .add_node("__error_handler__work", append("x"))
           .add_edge(START, "work").add_edge("work", "__error_handler__work"))
    with pytest.raises(ValueError, match="`__error_handler__work` already exists"):
        own.compile()
