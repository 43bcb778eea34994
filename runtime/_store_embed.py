"""Semantic search's inputs: the embedding function, the texts a value gives, similarity.

- :func:`ensure_embeddings` turns what ``index={"embed": ...}`` holds (a langchain-core
  ``Embeddings``, a sync or async function from texts to vectors, or a
  ``"provider:model"`` string for langchain's ``init_embeddings``) into an Embeddings.
- :func:`tokenize_path` / :func:`get_text_at_path`: the texts a field path selects in a
  value (``"$"`` the whole value as JSON, ``"a.b"``, ``"list[*].text"``, ``"list[-1]"``,
  ``"{a,b}"``, ``"*"``), as LangGraph reads them.
- :class:`Indexer`: the store's index configuration at work: which texts each put
  embeds under which field names, the vectors' checks, and :func:`cosine`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import math
import operator
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from ._store import IndexConfig, PutOp

if TYPE_CHECKING:
    # imported when a store is given an index: langchain-core's embeddings module pulls
    # in its runnables and callbacks, which a graph that only needs a saver never uses
    from langchain_core.embeddings import Embeddings

__all__ = [
    "AEmbeddingsFunc",
    "EmbeddingsFunc",
    "Indexer",
    "cosine",
    "ensure_embeddings",
    "get_text_at_path",
    "tokenize_path",
]

EmbeddingsFunc = Callable[[Sequence[str]], list[list[float]]]
AEmbeddingsFunc = Callable[[Sequence[str]], Awaitable[list[list[float]]]]


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None))  # noqa: B004 - a callable object's async __call__


@functools.cache
def _function_embeddings() -> Callable[[Any], Embeddings]:
    """``FunctionEmbeddings``, defined on first use (langchain-core's ``Embeddings``
    is imported only then)."""
    from langchain_core.embeddings import Embeddings

    class FunctionEmbeddings(Embeddings):
        """An ``Embeddings`` over a function from a list of texts to their vectors.

        A sync function serves both forms (the async form runs it on a worker thread, as
        langchain-core's default does); an async one serves the async form, and the sync
        form when no event loop runs in the calling thread (it is run on lograph's portal).
        """

        def __init__(self, func: EmbeddingsFunc | AEmbeddingsFunc) -> None:
            if not callable(func):
                raise TypeError(f"an embedding function must be callable, not {type(func).__name__}")
            self.func = func
            self.is_async = _is_async(func)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.is_async:
                from ._sync import run_sync

                async def call() -> list[list[float]]:
                    return await self.func(texts)  # type: ignore[no-any-return,misc]

                return run_sync(call, method="the store's sync embedding of a search or put",
                                amethod="the store's async methods (aput, asearch)")
            return self.func(texts)  # type: ignore[return-value]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.is_async:
                return await self.func(texts)  # type: ignore[no-any-return,misc]
            return await anyio.to_thread.run_sync(self.func, texts)  # type: ignore[arg-type]

        async def aembed_query(self, text: str) -> list[float]:
            return (await self.aembed_documents([text]))[0]

    return FunctionEmbeddings


def ensure_embeddings(embed: Any) -> Embeddings:
    """``embed`` as a langchain-core ``Embeddings`` (see the module docstring)."""
    from langchain_core.embeddings import Embeddings

    if embed is None:
        raise ValueError("index['embed'] must be given: an Embeddings, a function or a model name")
    if isinstance(embed, Embeddings):
        return embed
    if isinstance(embed, str):
        try:
            init_embeddings = importlib.import_module("langchain.embeddings").init_embeddings
        except (ImportError, AttributeError) as e:
            raise ValueError(
                f"index['embed'] = {embed!r} names a model, which needs the `langchain` package "
                "(init_embeddings) and its provider's package; or pass an Embeddings or a "
                "function") from e
        model: Embeddings = init_embeddings(embed)
        return model
    return _function_embeddings()(embed)


def tokenize_path(path: str) -> list[str]:
    """``"a.b[0].{c,d}"`` -> ``["a", "b", "[0]", "{c,d}"]``: a path's steps."""
    tokens: list[str] = []
    word: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch in "[{":
            if word:
                tokens.append("".join(word))
                word = []
            close = "]" if ch == "[" else "}"
            depth, j = 1, i + 1
            while j < len(path) and depth:
                depth += (path[j] == ch) - (path[j] == close)
                j += 1
            tokens.append(path[i:j])
            i = j
            continue
        if ch == ".":
            if word:
                tokens.append("".join(word))
                word = []
        else:
            word.append(ch)
        i += 1
    if word:
        tokens.append("".join(word))
    return tokens


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _leaf(value: Any) -> list[str]:
    if isinstance(value, str | int | float | bool):
        return [str(value)]
    if isinstance(value, list | dict):
        return [_as_json(value)]
    return []


def _walk(value: Any, tokens: list[str], at: int) -> list[str]:
    if at == len(tokens):
        return _leaf(value)
    token = tokens[at]
    if token.startswith("[") and token.endswith("]"):
        if not isinstance(value, list):
            return []
        index = token[1:-1]
        if index == "*":
            return [text for element in value for text in _walk(element, tokens, at + 1)]
        try:
            i = int(index)
        except ValueError:
            return []
        i = i + len(value) if i < 0 else i
        return _walk(value[i], tokens, at + 1) if 0 <= i < len(value) else []
    if token.startswith("{") and token.endswith("}"):
        if not isinstance(value, dict):
            return []
        texts = []
        for field in (f.strip() for f in token[1:-1].split(",")):
            found: Any = value
            for step in tokenize_path(field):
                found = found.get(step) if isinstance(found, dict) else None
            if found is not None:
                texts.extend(_leaf(found))
        return texts
    if token == "*":
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        return [text for child in children for text in _walk(child, tokens, at + 1)]
    if isinstance(value, dict) and token in value:
        return _walk(value[token], tokens, at + 1)
    return []


def get_text_at_path(obj: Any, path: str | list[str]) -> list[str]:
    """The texts ``path`` selects in ``obj`` (``"$"`` or ``""``: all of it, as JSON)."""
    if not path or path == "$":
        return [_as_json(obj)]
    tokens = tokenize_path(path) if isinstance(path, str) else path
    return _walk(obj, tokens, 0)


def cosine(query: Sequence[float], query_norm: float, vector: Sequence[float], norm: float) -> float:
    """The cosine similarity of two vectors given their norms (0.0 if either is zero)."""
    if not query_norm or not norm:
        return 0.0
    return float(sum(map(operator.mul, query, vector))) / (query_norm * norm)


def norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(map(operator.mul, vector, vector)))


class Indexer:
    """A store's ``index`` configuration: what each put embeds, and the embedding calls."""

    def __init__(self, config: IndexConfig) -> None:
        if not isinstance(config, dict):
            raise TypeError(f"index must be a dict (IndexConfig), not {type(config).__name__}")
        dims = config.get("dims")
        if not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0:
            raise ValueError(f"index['dims'] must be a positive int, not {dims!r}")
        fields = config.get("fields") or ["$"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise TypeError(f"index['fields'] must be a list of str paths, not {fields!r}")
        self.config = config
        self.dims = dims
        self.fields = list(fields)
        self.embeddings = ensure_embeddings(config.get("embed"))

    def texts(self, op: PutOp) -> list[tuple[str, str]]:
        """``(field name, text)`` for each vector ``op`` stores: a path that gives several
        texts names them ``path.0``, ``path.1``, ..."""
        if op.value is None or op.index is False:
            return []
        paths = self.fields if op.index is None else op.index
        out: list[tuple[str, str]] = []
        for path in paths:
            found = get_text_at_path(op.value, path)
            if len(found) == 1:
                out.append((path, found[0]))
            else:
                out.extend((f"{path}.{i}", text) for i, text in enumerate(found))
        return out

    def checked(self, vectors: Sequence[Sequence[float]], expected: int) -> list[list[float]]:
        """The embedding function's answer, checked: one vector per text, ``dims`` floats each."""
        vectors = list(vectors)
        if len(vectors) != expected:
            raise ValueError(
                f"the embedding function returned {len(vectors)} vectors for {expected} texts")
        out = []
        for vector in vectors:
            vector = [float(x) for x in vector]
            if len(vector) != self.dims:
                raise ValueError(
                    f"the embedding function returned a vector of {len(vector)} floats; "
                    f"index['dims'] is {self.dims}")
            out.append(vector)
        return out

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.checked(self.embeddings.embed_documents(texts), len(texts)) if texts else []

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self.embeddings
        if _inherits(model, "aembed_documents"):  # langchain-core's default is asyncio-only
            return self.checked(await anyio.to_thread.run_sync(model.embed_documents, texts), len(texts))
        return self.checked(await model.aembed_documents(texts), len(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.checked([self.embeddings.embed_query(text)], 1)[0]

    async def aembed_query(self, text: str) -> list[float]:
        model = self.embeddings
        if _inherits(model, "aembed_query"):
            return self.checked([await anyio.to_thread.run_sync(model.embed_query, text)], 1)[0]
        return self.checked([await model.aembed_query(text)], 1)[0]


def _inherits(model: Embeddings, method: str) -> bool:
    """Whether ``model`` keeps langchain-core's default async method (a thread via asyncio)."""
    from langchain_core.embeddings import Embeddings

    return getattr(type(model), method) is getattr(Embeddings, method)
