"""Placeholder codec (being replaced by the full cbor2 codec)."""

from __future__ import annotations

from typing import Any

import cbor2

from ._errors import DecodeError, EncodeError


def _default(encoder: Any, value: Any) -> None:
    if isinstance(value, tuple):
        encoder.encode(cbor2.CBORTag(4000, list(value)))
        return
    raise EncodeError("value", type(value))


def _tag(decoder: Any, tag: Any) -> Any:
    if tag.tag == 4000:
        return tuple(tag.value)
    raise DecodeError(f"unknown tag {tag.tag}")


def encode(value: Any, path: str = "value") -> bytes:
    return cbor2.dumps(value, default=_default)


def decode(data: bytes) -> Any:
    return cbor2.loads(data, tag_hook=_tag)


def register_type(cls: type) -> type:
    return cls
