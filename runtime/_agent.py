"""``create_react_agent``: a model that calls tools in a loop, as LangGraph's prebuilt one.

The graph (node names as LangGraph's, so breakpoints, ``update_state(as_node=...)``
and streams read the same): ``[pre_model_hook] -> agent -> [post_model_hook] ->
tools -> ... -> [generate_structured_response] -> END``. With ``version="v2"`` (the
default) each tool call of the model's message is a ``Send`` to ``tools``, a task of its
own: a finished call is recorded as it finishes and never runs again after a crash in
``sync`` mode. ``version="v1"`` runs all the calls in one ``tools`` task.

Models are called with ``ainvoke`` on asyncio; on trio (where langchain-core's async
machinery does not run) with ``invoke`` in a worker thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, NotRequired, cast, get_type_hints

import anyio
import sniffio
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableConfig,
    RunnableLambda,
    RunnableSequence,
)
from langchain_core.tools import BaseTool
from pydantic import BaseModel
from typing_extensions import TypedDict

from ._graph import StateGraph
from ._messages import add_messages
from ._tool_node import ToolNode
from ._types import END, START, Send
from .managed import RemainingSteps

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "create_react_agent",
]


class AgentState(TypedDict):
    """The agent's state: the conversation, and the steps the run has left (a managed
    value: computed for each node, never stored)."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


class AgentStatePydantic(BaseModel):
    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: RemainingSteps = 25


class AgentStateWithStructuredResponse(AgentState):
    structured_response: Any


class AgentStateWithStructuredResponsePydantic(AgentStatePydantic):
    structured_response: Any = None


_NEED_MORE_STEPS = "Sorry, need more steps to process this request."
_PROMPT = "Prompt"


def _value(state: Any, key: str, default: Any = None) -> Any:
    return state.get(key, default) if isinstance(state, dict) else getattr(state, key, default)


def _prompt_runnable(prompt: Any) -> Runnable[Any, Any]:
    """What turns the state into the model's input (LangGraph's ``prompt=`` forms)."""
    if prompt is None:
        return RunnableLambda(lambda state: _value(state, "messages"), name=_PROMPT)
    if isinstance(prompt, str | SystemMessage):
        system = SystemMessage(content=prompt) if isinstance(prompt, str) else prompt
        return RunnableLambda(lambda state: [system, *_value(state, "messages")], name=_PROMPT)
    if isinstance(prompt, Runnable):
        return prompt
    if inspect.iscoroutinefunction(prompt):
        async def call(state: Any) -> Any:
            return await prompt(state)

        return RunnableLambda(_no_sync(prompt), afunc=call, name=_PROMPT)
    if callable(prompt):
        return RunnableLambda(prompt, name=_PROMPT)
    raise ValueError(f"Got unexpected type for `prompt`: {type(prompt)}")


def _no_sync(fn: Callable[..., Any]) -> Callable[[Any], Any]:
    def refuse(_state: Any) -> Any:
        raise RuntimeError(
            f"the prompt {getattr(fn, '__name__', fn)!r} is async, and langchain-core runs "
            "async runnables on asyncio only: run the agent on asyncio, or give a sync prompt"
        )

    return refuse


def _chat_model(model: Any) -> Any:
    """The model inside a ``prompt | model`` sequence or a ``model.bind_tools(...)``."""
    if isinstance(model, RunnableSequence):
        model = next((s for s in model.steps if isinstance(s, RunnableBinding | BaseChatModel)),
                     model)
    return model.bound if isinstance(model, RunnableBinding) else model


def _needs_binding(model: Any, tools: Sequence[BaseTool], builtin: int) -> bool:
    """Whether ``model`` still needs ``bind_tools`` (an already bound model must name
    the same tools)."""
    if isinstance(model, RunnableSequence):
        model = next((s for s in model.steps if isinstance(s, RunnableBinding | BaseChatModel)),
                     model)
    if not isinstance(model, RunnableBinding) or "tools" not in model.kwargs:
        return True
    bound = model.kwargs["tools"]
    if len(tools) != len(bound) - builtin:
        raise ValueError(
            "Number of tools in the model.bind_tools() and tools passed to create_react_agent "
            f"must match Got {len(tools)} tools, expected {len(bound) - builtin}"
        )
    names = set()
    for b in bound:
        if b.get("type") == "function":
            names.add(b["function"]["name"])
        elif b.get("name"):
            names.add(b["name"])
    missing = {t.name for t in tools} - names
    if missing:
        raise ValueError(f"Missing tools '{missing}' in the model.bind_tools()")
    return False


def _check_history(messages: Sequence[BaseMessage]) -> None:
    """Every tool call in the history must have its ToolMessage (providers refuse it otherwise)."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    open_calls = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls
                  if c["id"] not in answered]
    if open_calls:
        raise ValueError(
            "Found AIMessages with tool_calls that do not have a corresponding ToolMessage. "
            f"Here are the first few of those tool calls: {open_calls[:3]}.\n\n"
            "Every tool call (LLM requesting to call a tool) in the message history MUST have "
            "a corresponding ToolMessage (result of a tool invocation to return to the LLM) - "
            "this is required by most LLM providers.\n"
            "For troubleshooting, visit: https://docs.langchain.com/oss/python/langgraph/errors/"
            "INVALID_CHAT_HISTORY"
        )


async def _call(runnable: Runnable[Any, Any], value: Any, config: Any) -> Any:
    """``runnable`` on ``value``: ``ainvoke`` on asyncio; on trio ``invoke`` in a worker
    thread (langchain-core's async paths need asyncio)."""
    if sniffio.current_async_library() == "asyncio":
        return await runnable.ainvoke(value, config)
    return await anyio.to_thread.run_sync(runnable.invoke, value, config)


def create_react_agent(
    model: Any,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] | ToolNode,
    *,
    prompt: Any = None,
    response_format: Any = None,
    pre_model_hook: Any = None,
    post_model_hook: Any = None,
    state_schema: Any = None,
    context_schema: Any = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: list[str] | None = None,
    interrupt_after: list[str] | None = None,
    debug: bool = False,
    version: Literal["v1", "v2"] = "v2",
    name: str | None = None,
    **unknown: Any,
) -> Any:
    """A graph that calls ``model`` and the tools it asks for until it answers.

    As LangGraph's ``create_react_agent`` (``langgraph.prebuilt``): ``prompt`` (a
    string or SystemMessage put first, or a callable or runnable from the state to the
    model's input), ``response_format`` (a schema, or ``(prompt, schema)``: one more
    model call after the loop fills ``structured_response``), ``pre_model_hook`` (its
    ``llm_input_messages`` go to the model without entering the state) and
    ``post_model_hook`` (``version="v2"`` only), ``state_schema`` (with ``messages`` and
    ``remaining_steps``), ``checkpointer``, ``store``, ``interrupt_before`` /
    ``interrupt_after`` (``"agent"``, ``"tools"``), ``name`` (given to the graph and to
    the model's messages). The model's tools are bound with ``bind_tools`` unless it
    comes bound already.
    """
    if "config_schema" in unknown and context_schema is None:
        context_schema = unknown.pop("config_schema")
    if unknown:
        raise TypeError(f"create_react_agent() got unexpected keyword arguments: {unknown}")
    if version not in ("v1", "v2"):
        raise ValueError(f"Invalid version {version}. Supported versions are 'v1' and 'v2'.")
    if post_model_hook is not None and version != "v2":
        raise ValueError("post_model_hook is only available with version='v2'")
    if state_schema is not None:
        required = {"messages", "remaining_steps"} | (
            {"structured_response"} if response_format is not None else set())
        missing = required - set(get_type_hints(state_schema))
        if missing:
            raise ValueError(f"Missing required key(s) {missing} in state_schema")
    else:
        state_schema = AgentStateWithStructuredResponse if response_format is not None else AgentState

    builtin: list[dict[str, Any]] = []
    if isinstance(tools, ToolNode):
        tool_node = tools
    else:
        builtin = [t for t in tools if isinstance(t, dict)]
        tool_node = ToolNode([t for t in tools if not isinstance(t, dict)])
    tool_list = list(tool_node.tools_by_name.values())

    dynamic = not isinstance(model, str | Runnable) and callable(model)
    prompt_runnable = _prompt_runnable(prompt)
    static: Runnable[Any, Any] | None = None
    if not dynamic:
        if isinstance(model, str):
            model = _init_chat_model(model)
        if tool_list or builtin:
            if _needs_binding(model, tool_list, len(builtin)):
                model = model.bind_tools([*tool_list, *builtin])
        static = prompt_runnable | model
    return_direct = {t.name for t in tool_list if t.return_direct}
    is_pydantic = isinstance(state_schema, type) and issubclass(state_schema, BaseModel)

    async def resolved(state: Any, runtime: Any) -> Runnable[Any, Any]:
        if static is not None:
            return static
        chosen = model(state, runtime)
        if inspect.isawaitable(chosen):
            chosen = await chosen
        return cast(Runnable[Any, Any], prompt_runnable | chosen)

    def model_input(state: Any) -> Any:
        messages = (_value(state, "llm_input_messages") if pre_model_hook is not None else None) \
            or _value(state, "messages")
        if messages is None:
            key = "'llm_input_messages' or 'messages'" if pre_model_hook is not None else "'messages'"
            raise ValueError(f"Expected input to call_model to have {key} key, but got {state}")
        _check_history(messages)
        if is_pydantic:
            state.messages = messages
        else:
            state["messages"] = messages
        return state

    def needs_more_steps(state: Any, response: BaseMessage) -> bool:
        remaining = _value(state, "remaining_steps")
        if remaining is None or not isinstance(response, AIMessage):
            return False
        calls = response.tool_calls
        if remaining < 1 and all(c["name"] in return_direct for c in calls):
            return True
        return remaining < 2 and bool(calls)

    async def agent(state: Any, config: RunnableConfig, runtime: Any) -> dict[str, Any]:
        if not is_pydantic:
            state = dict(state)
        runnable = await resolved(state, runtime)
        response = await _call(runnable, model_input(state), config)
        response.name = name
        if needs_more_steps(state, response):
            return {"messages": [AIMessage(id=response.id, content=_NEED_MORE_STEPS)]}
        return {"messages": [response]}

    async def generate_structured_response(state: Any, config: RunnableConfig,
                                           runtime: Any) -> dict[str, Any]:
        messages = list(_value(state, "messages"))
        schema = response_format
        if isinstance(response_format, tuple):
            system, schema = response_format
            messages = [SystemMessage(content=system), *messages]
        structured = _chat_model(await resolved(state, runtime)).with_structured_output(schema)
        return {"structured_response": await _call(structured, messages, config)}

    # (what invoke returns is the state schema's keys, as in LangGraph, not llm_input_messages)
    graph = StateGraph(state_schema, context_schema=context_schema, output_schema=state_schema)
    # the hook's llm_input_messages: a key the model reads, not one of the state's
    graph.add_node("agent", agent, input_schema=_with_llm_input(state_schema, is_pydantic)
                   if pre_model_hook is not None else None)
    entry = "agent"
    if pre_model_hook is not None:
        graph.add_node("pre_model_hook", pre_model_hook)
        graph.add_edge("pre_model_hook", "agent")
        entry = "pre_model_hook"
    graph.add_edge(START, entry)
    if post_model_hook is not None:
        graph.add_node("post_model_hook", post_model_hook)
        graph.add_edge("agent", "post_model_hook")
    if response_format is not None:
        graph.add_node("generate_structured_response", generate_structured_response)
    after_model = "post_model_hook" if post_model_hook is not None else "agent"
    finish = "generate_structured_response" if response_format is not None else END

    if not tool_list:
        if finish != END:
            graph.add_edge(after_model, finish)
        return graph.compile(checkpointer=checkpointer, store=store,
                             interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                             debug=debug, name=name)

    def sends(state: Any, calls: list[Any]) -> list[Send]:
        return [Send("tools", {"__type": "tool_call_with_context", "tool_call": c, "state": state})
                for c in calls]

    def should_continue(state: Any) -> Any:
        last = _value(state, "messages")[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return "post_model_hook" if post_model_hook is not None else finish
        if version == "v1":
            return "tools"
        if post_model_hook is not None:
            return "post_model_hook"
        return sends(state, last.tool_calls)

    agent_paths = ["post_model_hook"] if post_model_hook is not None else ["tools", finish]
    graph.add_conditional_edges("agent", should_continue, path_map=agent_paths)

    if post_model_hook is not None:
        def after_post_hook(state: Any) -> Any:
            messages = _value(state, "messages")
            answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
            last_ai = next(m for m in reversed(messages) if isinstance(m, AIMessage))
            pending = [c for c in last_ai.tool_calls if c["id"] not in answered]
            if pending:
                return sends(state, pending)
            if isinstance(messages[-1], ToolMessage):
                return entry
            return finish

        graph.add_conditional_edges("post_model_hook", after_post_hook,
                                    path_map=[entry, "tools", finish])

    graph.add_node("tools", tool_node)
    if return_direct:
        def after_tools(state: Any) -> str:
            m: Any = None
            for m in reversed(_value(state, "messages")):
                if not isinstance(m, ToolMessage):
                    break
                if m.name in return_direct:
                    return END
            if isinstance(m, AIMessage) and any(c["name"] in return_direct for c in m.tool_calls):
                return END  # a return_direct call ran in another Send of the step
            return entry

        graph.add_conditional_edges("tools", after_tools, path_map=[entry, END])
    else:
        graph.add_edge("tools", entry)
    return graph.compile(checkpointer=checkpointer, store=store,
                         interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                         debug=debug, name=name)


def _with_llm_input(schema: Any, is_pydantic: bool) -> Any:
    """``schema`` plus the ``llm_input_messages`` key a pre-model hook may write."""
    if is_pydantic:
        from pydantic import create_model

        return create_model("CallModelInputSchema", llm_input_messages=(list[AnyMessage], None),
                            __base__=schema)

    class CallModelInputSchema(schema):  # type: ignore[misc]
        llm_input_messages: NotRequired[list[AnyMessage]]  # type: ignore[valid-type]

    return CallModelInputSchema


def _init_chat_model(spec: str) -> Any:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as e:
        raise ImportError(
            "Please install langchain (`pip install langchain`) to use '<provider>:<model>' "
            "string syntax for `model` parameter."
        ) from e
    return cast(Any, init_chat_model(spec))
