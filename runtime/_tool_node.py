"""``ToolNode`` and ``tools_condition``: run the tool calls of a model's last message.

LangGraph's ``langgraph.prebuilt.tool_node`` behaviour, on lograph's engine:

- The tool calls of the last ``AIMessage`` run concurrently, each as its own piece of
  the node's task: a ``@task`` a tool calls gets an id from the node's task and the
  call's position, so its result is recorded and replayed like any task's, whatever
  order the tools run in; an ``interrupt()`` in a tool pauses the node (all the tools
  that paused are answered on resume).
- Sync tools run with ``tool.invoke`` in a worker thread, async ones with
  ``tool.ainvoke`` on asyncio. langchain-core's async machinery is asyncio's, so on
  trio every tool runs through its sync ``invoke``, and a tool with no sync
  implementation is refused with an error that says so.
- A tool's error becomes a ``ToolMessage`` with ``status="error"`` as
  ``handle_tool_errors`` says (by default only for arguments the model got wrong);
  ``interrupt()`` and cancellation are never turned into messages.
- A tool may return a ``Command`` (or a list of Commands and ToolMessages); the node
  then returns a list, which the engine applies item by item.
- ``InjectedState`` / ``InjectedStore`` / ``InjectedToolCallId`` arguments are filled
  by the node (the last by langchain-core) and hidden from the model; values the model
  sends for them are dropped.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import types
from collections.abc import Callable, Sequence
from copy import copy, deepcopy
from dataclasses import dataclass, field, replace
from typing import (
    Annotated,
    Any,
    Generic,
    Literal,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

import anyio
import sniffio
from langchain_core.messages import (
    AIMessage,
    RemoveMessage,
    ToolCall,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config, get_executor_for_config
from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool
from langchain_core.tools import tool as as_tool
from langchain_core.tools.base import _DirectlyInjectedToolArg, get_all_basemodel_annotations
from pydantic import ValidationError
from typing_extensions import TypeVar

from ._context import GraphInterrupt, TaskContext
from ._context import _current as current_task
from ._messages import REMOVE_ALL_MESSAGES
from ._resume import is_invalid_resume
from ._stream_tools import output_delta_writer
from ._sync import in_event_loop
from ._types import Command, Send

__all__ = [
    "InjectedState",
    "InjectedStore",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "msg_content_output",
    "tools_condition",
]

# what the model reads back (LangGraph's words: programs and prompts expect them)
INVALID_TOOL_NAME_ERROR_TEMPLATE = (
    "Error: {requested_tool} is not a valid tool, try one of [{available_tools}]."
)
TOOL_CALL_ERROR_TEMPLATE = "Error: {error}\n Please fix your mistakes."
TOOL_INVOCATION_ERROR_TEMPLATE = (
    "Error invoking tool '{tool_name}' with kwargs {tool_kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)
_CONTENT_BLOCKS = ("text", "image_url", "image", "json", "search_result", "custom_tool_call_output",
                   "document", "file")

InputKind = Literal["list", "dict", "tool_calls"]
ErrorHandling = bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...]


class InjectedState(InjectedToolArg):
    """Marks a tool argument the node fills with the graph's state (``InjectedState``)
    or one of its keys (``InjectedState("key")``); the model never sees it."""

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """Marks a tool argument the node fills with the graph's long-term store."""


ContextT = TypeVar("ContextT", default=None)
StateT = TypeVar("StateT", default=dict)  # type: ignore[type-arg]


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """What a tool with a ``runtime: ToolRuntime`` parameter is given (hidden from the
    model): the graph's ``state``, the run's ``context`` and ``config``, the custom
    ``stream_writer``, its ``tool_call_id``, the graph's ``store``, and the node's
    ``tools``."""

    state: StateT
    context: ContextT
    config: RunnableConfig
    stream_writer: Callable[[Any], None]
    tool_call_id: str | None
    store: Any
    tools: list[BaseTool] = field(default_factory=list)

    def emit_output_delta(self, delta: Any) -> None:
        """Stream a part of this call's output (a ``tool-output-delta`` event of the
        ``tools`` stream); nothing when the run does not stream ``tools``."""
        writer = output_delta_writer()
        if writer is not None:
            writer(delta)


class ToolInvocationError(Exception):
    """The model called a tool with arguments its schema refuses (the default
    ``handle_tool_errors`` answers it with a ToolMessage the model can act on)."""

    def __init__(self, tool_name: str, source: ValidationError, tool_kwargs: dict[str, Any],
                 hidden: frozenset[str] = frozenset()) -> None:
        shown = [e for e in source.errors() if not (e["loc"] and e["loc"][0] in hidden)]
        detail = "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in shown)
        self.message = TOOL_INVOCATION_ERROR_TEMPLATE.format(
            tool_name=tool_name, tool_kwargs=tool_kwargs, error=detail or str(source))
        self.tool_name = tool_name
        self.tool_kwargs = tool_kwargs
        self.source = source
        super().__init__(self.message)


def _default_handler(e: Exception) -> str:
    """The default ``handle_tool_errors``: answer bad arguments, let other errors raise."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def msg_content_output(output: Any) -> str | list[Any]:
    """A tool's result as ToolMessage content: strings and content blocks as they are,
    anything else as JSON (or ``str()`` when it is not JSON)."""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(
        isinstance(x, dict) and x.get("type") in _CONTENT_BLOCKS for x in output
    ):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except Exception:  # noqa: BLE001 - not JSON: its str()
        return str(output)


# -- what a tool wants injected ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Injected:
    state: dict[str, str | None] = field(default_factory=dict)  # argument -> state key (None: all)
    optional: frozenset[str] = frozenset()  # state arguments with a default
    store: str | None = None
    runtime: str | None = None
    hidden: frozenset[str] = frozenset()  # every injected argument (the model's are dropped)


def _marker(annotation: Any, kind: type) -> Any:
    """The ``kind`` marker (an instance, or the class itself) in an annotation, if any."""
    if isinstance(annotation, kind) or (isinstance(annotation, type) and issubclass(annotation, kind)):
        return annotation
    origin = get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, kind):  # ToolRuntime[Context, State]
        return origin
    if origin is Annotated or origin is Union or origin is types.UnionType:
        found = [m for a in get_args(annotation) if (m := _marker(a, kind)) is not None]
        if len(found) > 1:
            raise ValueError(f"a tool argument is annotated with {kind.__name__} more than once")
        return found[0] if found else None
    return None


def _injected(tool: BaseTool) -> _Injected:
    """What ``tool`` wants injected, from its schema and its function's annotations."""
    schema = tool.get_input_schema()
    hints: dict[str, Any] = {}
    fn = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if fn is not None:
        try:
            hints.update(get_type_hints(fn, include_extras=True))
        except (NameError, TypeError):
            pass
    hints.update(get_all_basemodel_annotations(schema))
    state: dict[str, str | None] = {}
    optional, hidden, store, runtime = set(), set(), None, None
    fields = getattr(schema, "model_fields", {})
    for name, annotation in hints.items():
        if name == "runtime" or _marker(annotation, ToolRuntime) is not None:
            runtime = name
        if _marker(annotation, InjectedToolArg) is not None or runtime == name:
            hidden.add(name)
        if (marker := _marker(annotation, InjectedState)) is not None:
            key = marker.field if isinstance(marker, InjectedState) else None
            state[name] = key
            if key and name in fields and not fields[name].is_required():
                optional.add(name)
        if _marker(annotation, InjectedStore) is not None:
            store = name
    return _Injected(state, frozenset(optional), store, runtime, frozenset(hidden))


# -- the node ------------------------------------------------------------------------------


class ToolNode(Runnable[Any, Any]):
    """Runs the tool calls of the last ``AIMessage`` in its input, concurrently.

    Input: a state with a ``messages_key`` list, a list of messages, or a list of tool
    calls (as a ``Send`` gives one). Output: ``{messages_key: [ToolMessage, ...]}`` (a
    list for a list of messages), or, when a tool returned a ``Command``, a list of
    Commands and such updates.

    ``handle_tool_errors``: ``True`` (every error becomes a ToolMessage), a string (that
    text), an exception class or tuple of them (those only), a function of the error
    returning the text (the exceptions its first parameter's annotation names), or
    ``False`` (errors propagate). The default answers arguments the tool's schema
    refuses and lets the tool's own errors propagate.
    """

    langgraph_kind = ("langgraph", "prebuilt", "tool_node", "ToolNode")  # its kind in get_graph's JSON

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: ErrorHandling = _default_handler,
        messages_key: str = "messages",
        wrap_tool_call: Any = None,
        awrap_tool_call: Any = None,
    ) -> None:
        if wrap_tool_call is not None or awrap_tool_call is not None:
            raise NotImplementedError(
                "ToolNode(wrap_tool_call=/awrap_tool_call=) is not implemented in lograph; "
                "wrap the tools themselves, or handle errors with handle_tool_errors="
            )
        self.name = name
        self.tags = list(tags or [])
        self._handle = handle_tool_errors
        self._handled = _handled_types(handle_tool_errors)
        self._messages_key = messages_key
        self._tools: dict[str, BaseTool] = {}
        self._injections: dict[str, _Injected] = {}
        for t in tools:
            made = t if isinstance(t, BaseTool) else as_tool(t)
            self._tools[made.name] = made
            self._injections[made.name] = _injected(made)

    @property
    def tools_by_name(self) -> dict[str, BaseTool]:
        return self._tools

    # -- running ----------------------------------------------------------------------

    async def __call__(self, input: Any, config: RunnableConfig) -> Any:
        """As a graph node (lograph calls it with the run's config)."""
        return await self.ainvoke(input, config)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the calls in threads (each tool's sync ``invoke``), outside an event loop."""
        calls, kind, state = self._parse(input)
        config = self._config(config)
        with get_executor_for_config(config) as executor:
            outputs = list(executor.map(
                lambda call: self._run_sync(call, kind, state, config, None), calls))
        return self._combine(outputs, kind)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        calls, kind, state = self._parse(input)
        config = self._config(config)
        ctx = current_task.get()
        store = getattr(ctx.run, "store", None) if ctx is not None else None  # the graph's
        outputs: list[Any] = [None] * len(calls)
        errors: list[tuple[int, BaseException]] = []

        async def one(i: int, call: ToolCall) -> None:
            try:
                outputs[i] = await self._run_async(call, kind, state, config, store, ctx, i)
            except (Exception, GraphInterrupt) as e:  # noqa: BLE001 - raised below, in call order
                errors.append((i, e))

        if len(calls) == 1:
            await one(0, calls[0])
        else:
            async with anyio.create_task_group() as tg:
                for i, call in enumerate(calls):
                    tg.start_soon(one, i, call)
        if errors:
            errors.sort(key=lambda item: item[0])
            failed = [e for _, e in errors if not isinstance(e, GraphInterrupt)]
            if failed:
                raise failed[0]
            raise GraphInterrupt([i for _, e in errors for i in cast(GraphInterrupt, e).interrupts])
        return self._combine(outputs, kind)

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        config = ensure_config(config)
        if self.tags:
            config["tags"] = [*config.get("tags", []), *self.tags]
        return config

    async def _run_async(self, call: ToolCall, kind: InputKind, state: Any, config: RunnableConfig,
                         store: Any, ctx: TaskContext | None, index: int) -> Any:
        tool = self._tools.get(call["name"])
        if tool is None:
            return self._unknown(call)
        payload = self._payload(call, tool, state, store, config)
        try:
            try:
                response = await self._acall(tool, payload, config, ctx, index)
            except ValidationError as e:
                if is_invalid_resume(e):  # an answer to the tool's interrupt(), not its arguments
                    raise
                raise self._invocation_error(call, e) from e
            return self._normalize(response, call, kind)
        except Exception as e:  # noqa: BLE001 - a message, or raised again
            return self._error_message(call, e)

    def _run_sync(self, call: ToolCall, kind: InputKind, state: Any, config: RunnableConfig,
                  store: Any) -> Any:
        tool = self._tools.get(call["name"])
        if tool is None:
            return self._unknown(call)
        payload = self._payload(call, tool, state, store, config)
        try:
            try:
                response = tool.invoke(payload, config)
            except ValidationError as e:
                if is_invalid_resume(e):  # an answer to the tool's interrupt(), not its arguments
                    raise
                raise self._invocation_error(call, e) from e
            return self._normalize(response, call, kind)
        except Exception as e:  # noqa: BLE001 - a message, or raised again
            return self._error_message(call, e)

    async def _acall(self, tool: BaseTool, payload: dict[str, Any], config: RunnableConfig,
                     ctx: TaskContext | None, index: int) -> Any:
        """Call ``tool`` as the event loop allows; inside a graph, as a part of its task
        with an id of its own (``index``: the call's position in the message)."""
        asynchronous = _is_async_tool(tool)
        if asynchronous and sniffio.current_async_library() != "asyncio":
            if _has_sync(tool):
                asynchronous = False
            else:
                raise RuntimeError(
                    f"tool {tool.name!r} has only an async implementation, and langchain-core "
                    "runs async tools on asyncio only: run the graph on asyncio, or give the "
                    "tool a sync function"
                )
        fn: Callable[..., Any] = tool.ainvoke if asynchronous else tool.invoke
        if ctx is None:
            if asynchronous:
                return await fn(payload, config)
            return await anyio.to_thread.run_sync(functools.partial(fn, payload, config))
        part = replace(ctx, task_id=_part_id(ctx.task_id, index), calls=0, interrupts=0,
                       subgraphs=0)  # the node's step, attempt, config, clock
        return await ctx.run.call_with(fn, asynchronous, (payload, config), {}, part)

    # -- input ------------------------------------------------------------------------

    def _parse(self, input: Any) -> tuple[list[ToolCall], InputKind, Any]:
        """The tool calls to run, the input's kind, and the state tools may be given."""
        key = self._messages_key
        if isinstance(input, list) and input and isinstance(input[-1], dict) \
                and input[-1].get("type") == "tool_call":
            return list(input), "tool_calls", {}
        if isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], "tool_calls", input["state"]
        if isinstance(input, list):
            kind: InputKind = "list"
            messages = input
        elif isinstance(input, dict) and input.get(key):
            kind, messages = "dict", input[key]
        elif not isinstance(input, dict) and getattr(input, key, None):
            kind, messages = "dict", getattr(input, key)
        else:
            raise ValueError("No message found in input")
        last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if last is None:
            raise ValueError("No AIMessage found in input")
        return list(last.tool_calls), kind, input

    def _payload(self, call: ToolCall, tool: BaseTool, state: Any, store: Any,
                 config: RunnableConfig) -> dict[str, Any]:
        """The tool call as ``tool.invoke`` takes it, with the injected arguments filled
        (the model's values for them dropped)."""
        wanted = self._injections.get(tool.name) or _injected(tool)
        args = {k: v for k, v in call["args"].items() if k not in wanted.hidden}
        if wanted.state:
            args.update(self._state_args(call, wanted, state))
        if wanted.store:
            if store is None:
                raise ValueError(
                    "Cannot inject store into tools with InjectedStore annotations - "
                    "please compile your graph with a store."
                )
            args[wanted.store] = store
        if wanted.runtime:
            args[wanted.runtime] = self._runtime(call, state, store, config)
        return {**copy(call), "args": args, "type": "tool_call"}

    def _runtime(self, call: ToolCall, state: Any, store: Any, config: RunnableConfig) -> ToolRuntime:
        ctx = current_task.get()
        return ToolRuntime(
            state=state, context=getattr(ctx.run, "context", None) if ctx is not None else None,
            config=config, stream_writer=_writer(ctx), tool_call_id=call["id"],
            store=store, tools=list(self._tools.values()),
        )

    def _state_args(self, call: ToolCall, wanted: _Injected, state: Any) -> dict[str, Any]:
        if isinstance(state, list):  # a list of messages: the state is {messages_key: it}
            keys = list(wanted.state.values())
            if keys[0] is None or keys == [self._messages_key]:
                state = {self._messages_key: state}
            else:
                needed = ", ".join(k for k in keys if k)
                raise ValueError(
                    f"Invalid input to ToolNode. Tool {call['name']} requires graph state dict "
                    f"as input." + (f" State should contain fields {needed}." if needed else "")
                )
        out: dict[str, Any] = {}
        for arg, key in wanted.state.items():
            if key is None:
                out[arg] = state
            elif isinstance(state, dict):
                if key in state:
                    out[arg] = state[key]
                elif arg not in wanted.optional:
                    raise KeyError(key)
            elif hasattr(state, key):
                out[arg] = getattr(state, key)
            elif arg not in wanted.optional:
                raise AttributeError(key)
        return out

    # -- output -----------------------------------------------------------------------

    def _unknown(self, call: ToolCall) -> ToolMessage:
        content = INVALID_TOOL_NAME_ERROR_TEMPLATE.format(
            requested_tool=call["name"], available_tools=", ".join(self._tools))
        return ToolMessage(content, name=call["name"], tool_call_id=call["id"], status="error")

    def _invocation_error(self, call: ToolCall, e: ValidationError) -> ToolInvocationError:
        wanted = self._injections.get(call["name"]) or _Injected()
        return ToolInvocationError(call["name"], e, call["args"], wanted.hidden)

    def _error_message(self, call: ToolCall, e: Exception) -> ToolMessage:
        """The ToolMessage ``handle_tool_errors`` makes of ``e``, or ``e`` raised again."""
        if not self._handle or not isinstance(e, self._handled) or is_invalid_resume(e):
            raise e  # (a refused resume answer is never the model's to see: answer it again)
        flag = self._handle
        if isinstance(flag, bool | tuple) or isinstance(flag, type):
            content = TOOL_CALL_ERROR_TEMPLATE.format(error=repr(e))
        elif isinstance(flag, str):
            content = flag
        else:
            content = flag(e)
        return ToolMessage(content=content, name=call["name"], tool_call_id=call["id"],
                           status="error")

    def _normalize(self, response: Any, call: ToolCall, kind: InputKind) -> Any:
        if isinstance(response, Command):
            return self._checked_command(response, call, kind)
        if isinstance(response, ToolMessage):
            response.content = msg_content_output(response.content)
            return response
        if isinstance(response, list) and all(isinstance(r, Command | ToolMessage) for r in response):
            return self._checked_list(response, call, kind)
        if isinstance(response, list):
            raise TypeError(
                f"Tool {call['name']} returned a list with invalid element types: expected all "
                "Command or ToolMessage"
            )
        raise TypeError(f"Tool {call['name']} returned unexpected type: {type(response)}")

    def _checked_list(self, response: list[Any], call: ToolCall, kind: InputKind) -> list[Any]:
        """A tool's list of Commands and ToolMessages must answer its call exactly once."""
        answers = sum(
            1 for m in _messages_in(response, self._messages_key)
            if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]
        )
        if answers != 1:
            raise ValueError(
                f"Tool {call['name']} returned a list with {answers} messages bound to "
                f"tool_call_id {call['id']!r}; expected exactly one terminating ToolMessage."
            )
        out: list[Any] = []
        for item in response:
            if isinstance(item, Command):
                out.append(self._checked_command(item, call, kind, answered=False))
            else:
                item.content = msg_content_output(item.content)
                out.append(item)
        return out

    def _checked_command(self, command: Command[Any], call: ToolCall, kind: InputKind, *,
                         answered: bool = True) -> Command[Any]:
        """A tool's Command; one for this graph must carry the ToolMessage answering the
        call (every tool call needs its answer in the history)."""
        if isinstance(command.update, dict):
            if kind not in ("dict", "tool_calls"):
                raise ValueError(
                    f"Tools can provide a dict in Command.update only when using dict with "
                    f"'{self._messages_key}' key as ToolNode input, got: {command.update} for "
                    f"tool '{call['name']}'"
                )
            command = replace(command, update=deepcopy(command.update))
            messages = command.update.get(self._messages_key, [])
        elif isinstance(command.update, list):
            if kind != "list":
                raise ValueError(
                    "Tools can provide a list of messages in Command.update only when using "
                    f"list of messages as ToolNode input, got: {command.update} for tool "
                    f"'{call['name']}'"
                )
            command = replace(command, update=deepcopy(command.update))
            messages = command.update
        else:
            return command
        messages = convert_to_messages(messages)
        if messages == [RemoveMessage(id=REMOVE_ALL_MESSAGES)]:
            return command
        found = False
        for m in messages:
            if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]:
                m.name = call["name"]
                found = True
        if answered and command.graph is None and not found:
            example = ('`Command(update={"messages": [ToolMessage("Success", '
                       'tool_call_id=tool_call_id), ...]}, ...)`' if kind == "dict" else
                       '`Command(update=[ToolMessage("Success", tool_call_id=tool_call_id), '
                       '...], ...)`')
            raise ValueError(
                f"Expected to have a matching ToolMessage in Command.update for tool "
                f"'{call['name']}', got: {messages}. Every tool call (LLM requesting to call a "
                "tool) in the message history MUST have a corresponding ToolMessage. You can "
                f"fix it by modifying the tool to return {example}."
            )
        return command  # (its message objects now carry the tool's name)

    def _combine(self, outputs: list[Any], kind: InputKind) -> Any:
        flat: list[Any] = []
        for o in outputs:
            flat += o if isinstance(o, list) else [o]
        if not any(isinstance(o, Command) for o in flat):
            return flat if kind == "list" else {self._messages_key: flat}
        out: list[Any] = []
        sends: list[Send] = []
        for o in flat:
            if isinstance(o, Command) and o.graph == Command.PARENT and isinstance(o.goto, list) \
                    and all(isinstance(s, Send) for s in o.goto):
                sends += o.goto  # the caller's Sends, gathered into one Command
            elif isinstance(o, Command):
                out.append(o)
            else:
                out.append([o] if kind == "list" else {self._messages_key: [o]})
        if sends:
            out.append(Command(graph=Command.PARENT, goto=sends))
        return out


def _writer(ctx: TaskContext | None) -> Callable[[Any], None]:
    """The custom-stream writer a tool is given: usable from the event loop and from the
    worker thread a sync tool runs in (it is made before the tool knows where it runs)."""
    if ctx is None:
        return lambda _value: None
    emit = ctx.run.emit

    def write(value: Any) -> None:
        if in_event_loop():
            emit("custom", value)
        else:
            anyio.from_thread.run_sync(emit, "custom", value)

    return write


def _messages_in(response: list[Any], key: str) -> list[Any]:
    out: list[Any] = []
    for item in response:
        if isinstance(item, ToolMessage):
            out.append(item)
        elif isinstance(item, Command) and isinstance(item.update, dict):
            out += item.update.get(key, [])
    return out


def _handled_types(flag: ErrorHandling) -> tuple[type[Exception], ...]:
    """The exceptions ``handle_tool_errors`` turns into messages."""
    if isinstance(flag, type) and issubclass(flag, Exception):
        return (flag,)
    if isinstance(flag, tuple):
        return flag
    if callable(flag) and not isinstance(flag, type):
        return _annotated_errors(flag)
    return (Exception,)


def _annotated_errors(handler: Callable[..., str]) -> tuple[type[Exception], ...]:
    """The exception types a handler's first parameter is annotated with (all, if none)."""
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        return (Exception,)
    first = params[1] if params[0].name in ("self", "cls") and len(params) == 2 else params[0]
    try:
        hints = get_type_hints(handler)
    except (NameError, TypeError):
        return (Exception,)
    if first.name not in hints:
        return (Exception,)
    annotation = hints[first.name]
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) \
        else (annotation,)
    if all(isinstance(t, type) and issubclass(t, Exception) for t in options):
        return tuple(options)
    raise ValueError(
        f"the error handler {getattr(handler, '__name__', handler)!r} annotates its error as "
        f"{annotation!r}: annotate it with an Exception type or a union of them "
        "(`def handler(e: ValueError | TypeError) -> str`)"
    )


def _is_async_tool(tool: BaseTool) -> bool:
    if isinstance(tool, StructuredTool):
        return tool.coroutine is not None
    return type(tool)._arun is not BaseTool._arun


def _has_sync(tool: BaseTool) -> bool:
    if isinstance(tool, StructuredTool):
        return tool.func is not None
    return True


def _part_id(task_id: str, index: int) -> str:
    """The id a tool call runs under inside its node's task (its ``@task`` calls and
    ``interrupt()``s are keyed by it): derived from the task and the call's position."""
    digest = hashlib.sha256(f"{task_id}|tool|{index}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def tools_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "__end__"]:
    """Where a model's turn goes: ``"tools"`` when its last message asks for tool calls,
    else ``END``."""
    if isinstance(state, list):
        messages = state
    elif isinstance(state, dict):
        messages = state.get(messages_key) or []
    else:
        messages = getattr(state, messages_key, None) or []
    if not messages:
        raise ValueError(f"No messages found in input state to tool_edge: {state}")
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else "__end__"

