"""The event log's codec: Python values to CBOR bytes and back, types kept exactly.

Rules:
- ``decode(encode(x))`` is ``x`` with every type kept, at any depth: a tuple stays a
  tuple, a dataclass or pydantic model stays its class, an enum stays its member.
- An unsupported type fails in ``encode``, with the path to the value and its type.
  A subclass of a builtin never decays to its base: it is stored as itself (enum,
  dataclass, model, registered class, a subclass of str, int, dict or list defined in
  Python) or refused.
- ``decode`` runs no code the data picks: no pickle, no import of a module the data
  names, no lookup that can run code (a module's ``__getattr__``, a metaclass's). A
  class named in the data comes from the registry (``register_type``; encoding an
  enum, dataclass, model or builtin subclass registers its class) or, without
  importing, from a module already in ``sys.modules`` if it is a dataclass, a pydantic
  model, an enum or a subclass of str, int, dict or list defined in Python. The only
  imports are langchain-core's public modules (``langchain_core.messages``,
  ``.documents``, ``.outputs``), for the pydantic models they export and their
  submodules' classes. Dataclasses are rebuilt without ``__init__`` (their fields are
  the state), pydantic models as pydantic unpickles them, str/int/dict/list subclasses
  by their base's ``__new__`` plus their ``__dict__``: none of their code runs.
  lograph's old message dataclasses decode as langchain-core's messages (``_classes``).
- One known limit: cbor2 decodes dict keys immutably, so an object hashed by identity
  (an ``eq=False`` dataclass, say) used as a dict key gets its lists back as tuples.
- Equal values encode to equal bytes where Python allows: set members are sorted by
  their encoding; dicts keep insertion order, which Python treats as meaningful.
- The fast path is cbor2's native encoder. ``_ENCODERS`` maps every type met so far
  to its encoder; cbor2 looks each value's type up in it, and a type not in it yet is
  decided once, in ``_EncoderTable.__missing__``. Paths are computed only on failure.

Tags (a storage format: never reuse or reinterpret a number; only add new ones).
cbor2's native tags that are kept: 2 and 3 (bignum int), 30 (Fraction, [numerator,
denominator]), 37 (UUID, 16 bytes), 43000 (complex, [real, imag]). Every other
native tag is refused on decode. lograph's own, in a private range:

    6000000  tuple          array of items
    6000001  set            array of members, sorted by their encoded bytes
    6000002  frozenset      same as set
    6000003  bytearray      byte string
    6000004  datetime       [year, month, day, hour, minute, second, microsecond, fold, tzinfo]
    6000005  date           [year, month, day]
    6000006  time           [hour, minute, second, microsecond, fold, tzinfo]
    6000007  timedelta      [days, seconds, microseconds]
    6000008  timezone       [offset in microseconds] or [offset, name]
    6000009  ZoneInfo       its key, such as "Europe/Paris"
    6000010  Decimal        str(value), exact, including NaN, sNaN and Infinity
    6000011  OrderedDict    map
    6000012  Counter        map
    6000013  defaultdict    [factory (class name or null), map]
    6000014  deque          [maxlen or null, array of items]
    6000015  range          [start, stop, step]
    6000016  enum member    [class name, member name]; a Flag stores [class name, value]
    6000017  dataclass      [class name, {field name: value}]
    6000018  pydantic model [class name, {field: value}, extra, sorted fields_set, private]
    6000019  builtin subclass  [class name, the value as its builtin base]; a str, int,
             dict or list subclass whose instance has attributes adds them:
             [class name, value, {attribute: value}]

A class name is ``"module:qualname"``; langchain-core classes use their public module
where it exports them, ``"langchain_core.messages:AIMessage"``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from functools import partial
from io import BytesIO
from typing import IO, Any, Final, cast
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cbor2 import (
    CBORDecodeError,
    CBORDecoder,
    CBOREncodeError,
    CBOREncoder,
    CBORTag,
    dumps,
)

from ._classes import (
    _REGISTRY,
    TAG_DATACLASS,
    TAG_ENUM,
    TAG_MODEL,
    TAG_SUBCLASS,
    Encode,
    _class_name,
    _dataclass_encoder,
    _decode_dataclass,
    _decode_enum,
    _decode_model,
    _decode_subclass,
    _enum_encoder,
    _is_dataclass,
    _is_enum,
    _is_found_by_name,
    _is_model,
    _model_encoder,
    _model_state,
    _plain_base,
    _plain_subclass_encoder,
    _register,
    _registered_base,
    _resolve,
    _subclass_encoder,
)
from ._errors import DecodeError, EncodeError

__all__ = [  # (the class tags are _classes', listed here so the tag table is whole)
    "TAG_BYTEARRAY", "TAG_COUNTER", "TAG_DATACLASS", "TAG_DATE", "TAG_DATETIME", "TAG_DECIMAL",
    "TAG_DEFAULTDICT", "TAG_DEQUE", "TAG_ENUM", "TAG_FROZENSET", "TAG_MODEL", "TAG_ORDEREDDICT",
    "TAG_RANGE", "TAG_SET", "TAG_SUBCLASS", "TAG_TIME", "TAG_TIMEDELTA", "TAG_TIMEZONE",
    "TAG_TUPLE", "TAG_ZONEINFO", "decode", "decode_with", "encode", "register_type",
]

TAG_TUPLE: Final = 6_000_000
TAG_SET: Final = 6_000_001
TAG_FROZENSET: Final = 6_000_002
TAG_BYTEARRAY: Final = 6_000_003
TAG_DATETIME: Final = 6_000_004
TAG_DATE: Final = 6_000_005
TAG_TIME: Final = 6_000_006
TAG_TIMEDELTA: Final = 6_000_007
TAG_TIMEZONE: Final = 6_000_008
TAG_ZONEINFO: Final = 6_000_009
TAG_DECIMAL: Final = 6_000_010
TAG_ORDEREDDICT: Final = 6_000_011
TAG_COUNTER: Final = 6_000_012
TAG_DEFAULTDICT: Final = 6_000_013
TAG_DEQUE: Final = 6_000_014
TAG_RANGE: Final = 6_000_015

# cbor2 decodes these natively into types lograph never writes (regexes, MIME
# messages, IP addresses, shared references, ...): refused, never built.
_REFUSED_NATIVE = (0, 1, 4, 5, 25, 28, 29, 35, 36, 52, 54, 100, 256, 258, 260, 261, 1004, 55799)
# Decoding is iterative in cbor2; this only bounds hostile input (encode stops near
# the recursion limit, about 1000 levels).
_MAX_DEPTH = 100_000

_MICROSECOND: Final = timedelta(microseconds=1)



# --- encoding: one encoder per type ----------------------------------------------


class _Unsupported(Exception):
    """Raised inside cbor2 for a value it must not store; ``encode`` adds the path."""

    def __init__(self, type_: type, hint: str = "") -> None:
        super().__init__(type_, hint)
        self.type = type_
        self.hint = hint


def _encode_none(enc: CBOREncoder, _value: None) -> None:
    enc.encode_none()


def _tagged_array(tag: int) -> Encode:
    def encode(enc: CBOREncoder, value: Any) -> None:
        enc.encode_length(6, tag)
        enc.encode_array(value)

    return encode


def _tagged_set(tag: int) -> Encode:
    def encode(enc: CBOREncoder, value: Any) -> None:
        enc.encode_length(6, tag)
        enc.encode_array(sorted(value, key=enc.encode_to_bytes))

    return encode


def _tagged_map(tag: int) -> Encode:
    def encode(enc: CBOREncoder, value: Any) -> None:
        enc.encode_length(6, tag)
        enc.encode_map(value)

    return encode


def _encode_bytearray(enc: CBOREncoder, value: bytearray) -> None:
    enc.encode_length(6, TAG_BYTEARRAY)
    enc.encode_bytearray(value)


def _encode_datetime(enc: CBOREncoder, dt: datetime) -> None:
    fields = [dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond]
    enc.encode_semantic(TAG_DATETIME, [*fields, dt.fold, dt.tzinfo])


def _encode_date(enc: CBOREncoder, d: date) -> None:
    enc.encode_semantic(TAG_DATE, [d.year, d.month, d.day])


def _encode_time(enc: CBOREncoder, t: time) -> None:
    fields = [t.hour, t.minute, t.second, t.microsecond, t.fold, t.tzinfo]
    enc.encode_semantic(TAG_TIME, fields)


def _encode_timedelta(enc: CBOREncoder, td: timedelta) -> None:
    enc.encode_semantic(TAG_TIMEDELTA, [td.days, td.seconds, td.microseconds])


def _encode_timezone(enc: CBOREncoder, tz: timezone) -> None:
    offset, *name = tz.__getinitargs__()  # type: ignore[attr-defined]
    enc.encode_semantic(TAG_TIMEZONE, [offset // _MICROSECOND, *name])


def _encode_zoneinfo(enc: CBOREncoder, tz: ZoneInfo) -> None:
    if tz.key is None:
        raise _Unsupported(ZoneInfo, "it has no key (it was read from a file): use ZoneInfo(key)")
    enc.encode_semantic(TAG_ZONEINFO, tz.key)


def _encode_decimal(enc: CBOREncoder, value: Decimal) -> None:
    enc.encode_semantic(TAG_DECIMAL, str(value))


def _encode_defaultdict(enc: CBOREncoder, value: defaultdict[Any, Any]) -> None:
    enc.encode_length(6, TAG_DEFAULTDICT)
    enc.encode_length(4, 2)
    enc.encode(_factory_name(value.default_factory))
    enc.encode_map(value)


def _encode_deque(enc: CBOREncoder, value: deque[Any]) -> None:
    enc.encode_semantic(TAG_DEQUE, [value.maxlen, list(value)])


def _encode_range(enc: CBOREncoder, value: range) -> None:
    enc.encode_semantic(TAG_RANGE, [value.start, value.stop, value.step])


_BUILTIN_FACTORIES = (list, dict, set, frozenset, tuple, int, float, complex, str, bytes, bool)
_STDLIB_FACTORIES = (bytearray, OrderedDict, Counter, deque, Decimal, Fraction)
_FACTORIES: Final = {_class_name(t): t for t in (*_BUILTIN_FACTORIES, *_STDLIB_FACTORIES)}


def _factory_name(factory: object) -> str | None:
    if factory is None:
        return None
    if isinstance(factory, type):
        name = _class_name(factory)
        if _FACTORIES.get(name) is factory or _REGISTRY.get(name) is factory:
            return name
        if _is_found_by_name(factory):
            return _register(factory)
    raise _Unsupported(
        defaultdict,
        f"its default_factory {factory!r} is neither a builtin type nor a registered class",
    )


def _encoder_for(cls: type) -> Encode:
    """Decide how to store instances of ``cls`` (a type not seen before)."""
    if _is_enum(cls):
        return _enum_encoder(cls)
    if _is_dataclass(cls):
        return _dataclass_encoder(cls)
    if _is_model(cls):
        return _model_encoder(cls)
    base = _registered_base(cls)
    if base is not None:
        return _subclass_encoder(cls, base)
    base = _plain_base(cls)
    if base is not None:
        return _plain_subclass_encoder(cls, base)
    raise _Unsupported(cls, _unsupported_hint(cls))


def _unsupported_hint(cls: type) -> str:
    if _REGISTRY.get(_class_name(cls)) is cls:
        return (
            "it is registered, but only enums, dataclasses, pydantic models and builtin "
            "subclasses are stored; other registered classes serve as defaultdict factories"
        )
    if issubclass(cls, tzinfo):
        return "store time zones as zoneinfo.ZoneInfo or datetime.timezone"
    base = next((b for b in cls.__mro__[1:-1] if b in _ENCODERS), None)
    if base is not None:
        return f"it subclasses {base.__name__}, and storing it as one would lose its type"
    return ""


class _EncoderTable(dict[type, Encode]):
    """type -> its encoder, as cbor2's ``encoders``; an unseen type is decided once."""

    def __missing__(self, cls: type) -> Encode:
        encode = _encoder_for(cls)
        self[cls] = encode
        return encode


_ENCODERS: Final = _EncoderTable(
    {
        type(None): _encode_none,
        bool: CBOREncoder.encode_bool,
        int: CBOREncoder.encode_int,
        float: CBOREncoder.encode_float,
        complex: CBOREncoder.encode_complex,
        str: CBOREncoder.encode_string,
        bytes: CBOREncoder.encode_bytes,
        list: CBOREncoder.encode_array,
        dict: CBOREncoder.encode_map,
        UUID: CBOREncoder.encode_uuid,
        Fraction: CBOREncoder.encode_rational,
        tuple: _tagged_array(TAG_TUPLE),
        set: _tagged_set(TAG_SET),
        frozenset: _tagged_set(TAG_FROZENSET),
        bytearray: _encode_bytearray,
        datetime: _encode_datetime,
        date: _encode_date,
        time: _encode_time,
        timedelta: _encode_timedelta,
        timezone: _encode_timezone,
        ZoneInfo: _encode_zoneinfo,
        Decimal: _encode_decimal,
        OrderedDict: _tagged_map(TAG_ORDEREDDICT),
        Counter: _tagged_map(TAG_COUNTER),
        defaultdict: _encode_defaultdict,
        deque: _encode_deque,
        range: _encode_range,
    }
)

_ENCODE_FAILURES: Final = (_Unsupported, CBOREncodeError, UnicodeEncodeError)


#: the largest encoding ``encode`` makes (a bound on memory and on the time spent).
MAX_ENCODED = 64 << 20
#: an encoding past this size is checked first: a value that holds one object in many
#: places (shared substructure: ``x = [x, x]`` twenty times) is written out in full at
#: each, so its encoding can grow exponentially; the check counts that without writing
#: it, and refuses at once what would pass ``MAX_ENCODED``
_CHECK_ABOVE = 1 << 20


class _Sink:
    """Where a writer's encoder writes: the encoding's chunks, refusing any that would
    pass ``size`` bytes (with the error a write past a fixed buffer raises). The encoder
    buffers in C and hands over 4 KiB at a time, so a small value costs one call; the
    chunks are heap bytes the next step reads while they are still in cache."""

    __slots__ = ("chunks", "left", "size")

    def __init__(self, size: int) -> None:
        self.size = self.left = size
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        n = len(data)
        if n > self.left:
            raise ValueError("data out of range")
        self.left -= n
        self.chunks.append(data)
        return n


class _Writer:
    """An encoder writing into a sink of ``size`` bytes; ``busy`` while encoding."""

    __slots__ = ("busy", "encoder", "sink")

    def __init__(self, size: int) -> None:
        self.sink = _Sink(size)
        self.encoder = CBOREncoder(cast(IO[bytes], self.sink), encoders=_ENCODERS)
        self.busy = False


# One writer per thread for encodings up to _CHECK_ABOVE, reused (cheaper than ``dumps``,
# which makes an encoder and a buffer per call); dropped after a failure, when its
# encoder may hold part of a value.
_PER_THREAD = threading.local()


def encode(value: Any, path: str = "value") -> bytes:
    """Return the CBOR bytes of ``value``.

    Raises EncodeError if ``value`` holds something that cannot be stored; its
    ``path`` starts with ``path`` and leads to the offending value (``.type``); or if
    its encoding would pass ``MAX_ENCODED`` bytes (then without making it).
    """
    # (the usual case inline, the rest in _encode_failed: every event's body comes through here)
    writer: _Writer | None = getattr(_PER_THREAD, "writer", None)
    if writer is None or writer.busy:  # (busy: an encoder hook encoding on its own)
        writer = _writer(_CHECK_ABOVE)
    sink = writer.sink
    chunks: list[bytes] = []
    sink.left, sink.chunks = sink.size, chunks
    writer.busy = True
    try:
        writer.encoder.encode(value)
    except BaseException as e:  # noqa: BLE001 - _encode_failed raises it again unless past the sink
        return _encode_failed(writer, value, path, e)
    writer.busy = False
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _encode_failed(writer: _Writer, value: Any, path: str, error: BaseException) -> bytes:
    """After ``writer`` failed on ``value``: its error as an EncodeError, or (past the
    sink) the encoding made again with a writer of its own up to ``MAX_ENCODED``."""
    limit = writer.sink.size
    while True:
        writer.busy = False
        if getattr(_PER_THREAD, "writer", None) is writer:  # it may hold part of a value
            del _PER_THREAD.writer
        if not (isinstance(error, ValueError) and str(error) == "data out of range"):  # (past the sink)
            if isinstance(error, RecursionError):
                raise EncodeError(path, type(value), "it is nested too deeply") from None
            if isinstance(error, _ENCODE_FAILURES):
                raise _locate(value, path, error, frozenset()) from None
            raise error
        if limit >= MAX_ENCODED:
            raise _too_large(value, path, shared=False) from None
        if _written_out(value) > MAX_ENCODED:  # (each thing written takes a byte at least)
            raise _too_large(value, path, shared=True) from None
        limit = MAX_ENCODED
        writer = _writer(limit)
        chunks = writer.sink.chunks
        writer.busy = True
        try:
            writer.encoder.encode(value)
        except BaseException as again:  # noqa: BLE001 - raised again above, at the next turn
            error = again
            continue
        writer.busy = False
        return b"".join(chunks)


def _writer(limit: int) -> _Writer:
    """A new writer for encodings up to ``limit`` bytes: this thread's reused one if it
    has none yet and ``limit`` is the usual."""
    writer = _Writer(limit)
    if limit == _CHECK_ABOVE and getattr(_PER_THREAD, "writer", None) is None:
        _PER_THREAD.writer = writer
    return writer


def _too_large(value: Any, path: str, *, shared: bool) -> EncodeError:
    why = (" (it holds the same objects in many places, and each place stores them in full)"
           if shared else "")
    return EncodeError(path, type(value), f"its stored form is over {MAX_ENCODED >> 20} MiB{why}",
                       advice="store large or shared parts once, elsewhere, and refer to them by key")


def _written_out(value: Any) -> int:
    """How many values an encoding of ``value`` writes, shared ones counted at each place
    they are held: computed over the distinct objects (linear in them, not in the total)."""
    counts: dict[int, int] = {}
    held = []  # (keeps each object alive while its id is a key)
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            counts[id(item)] = 1 + sum(counts.get(id(child), 1) for _, child in _children(item))
            continue
        if id(item) in counts:
            continue
        counts[id(item)] = 1  # (a cycle's back edge counts 1: the encoder refuses cycles)
        held.append(item)
        stack.append((item, True))
        stack.extend((child, False) for _, child in _children(item) if id(child) not in counts)
    return counts[id(value)]


# --- encoding failures: find where -------------------------------------------------


def _failure(value: Any) -> BaseException | None:
    try:
        dumps(value, encoders=_ENCODERS)
    except _ENCODE_FAILURES as exc:
        return exc
    return None


def _locate(value: Any, path: str, exc: BaseException, seen: frozenset[int]) -> EncodeError:
    """The error of the innermost value that fails to encode (re-walks, slow path)."""
    seen = seen | {id(value)}
    for suffix, child in _children(value):
        where = path + suffix
        if id(child) in seen:
            return EncodeError(where, type(child), "it contains itself (a reference cycle)")
        child_exc = _failure(child)
        if child_exc is not None:
            return _locate(child, where, child_exc, seen)
    if isinstance(exc, _Unsupported):
        return EncodeError(path, exc.type, exc.hint)
    return EncodeError(path, type(value), str(exc))


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    """(path suffix, value) of what a supported container stores."""
    try:
        _ENCODERS[type(value)]
    except _Unsupported:
        return
    if isinstance(value, Mapping):
        for i, (key, item) in enumerate(value.items()):
            yield f".<key {i}>", key
            yield f"[{key!r}]", item
    elif isinstance(value, (list, tuple, deque)):
        for i, item in enumerate(value):
            yield f"[{i}]", item
    elif isinstance(value, (set, frozenset)):
        for i, item in enumerate(value):
            yield f".<member {i}>", item
    elif _is_dataclass(type(value)):
        for f in dataclasses.fields(value):
            yield f".{f.name}", getattr(value, f.name)
    elif _is_model(type(value)):
        fields, extra, _, private = _model_state(value)
        for name, item in (*fields.items(), *(extra or {}).items(), *(private or {}).items()):
            yield f".{name}", item
    elif isinstance(value, (datetime, time)):
        yield ".tzinfo", value.tzinfo


# --- decoding ----------------------------------------------------------------------


def _decode_defaultdict(value: Any, _immutable: bool) -> defaultdict[Any, Any]:
    factory_name, items = value
    if factory_name is None:
        return defaultdict(None, items)
    factory = _FACTORIES.get(factory_name) or _resolve(factory_name)
    return defaultdict(factory, items)


def _decode_datetime(value: Any, _immutable: bool) -> datetime:
    year, month, day, hour, minute, second, microsecond, fold, tz = value
    return datetime(year, month, day, hour, minute, second, microsecond, tz, fold=fold)


def _decode_time(value: Any, _immutable: bool) -> time:
    hour, minute, second, microsecond, fold, tz = value
    return time(hour, minute, second, microsecond, tz, fold=fold)


def _decode_timezone(value: Any, _immutable: bool) -> timezone:
    offset, *name = value
    return timezone(offset * _MICROSECOND, *name)


def _decode_zoneinfo(key: Any, _immutable: bool) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise DecodeError(f"unknown time zone {key!r}: install tzdata or fix the zone name") from e


def _refuse_tag(tag: int, _value: Any, _immutable: bool) -> None:
    raise DecodeError(f"CBOR tag {tag} is not one lograph writes: the data is not an event body")


def _unknown_tag(tag: CBORTag, immutable: bool) -> None:
    _refuse_tag(tag.tag, tag.value, immutable)


# Not tag_hook: cbor2 decodes what a tag_hook receives as immutable (lists as tuples).
_DECODERS: Final[dict[int, Callable[[Any, bool], Any]]] = {
    **{tag: partial(_refuse_tag, tag) for tag in _REFUSED_NATIVE},
    TAG_TUPLE: lambda v, _: tuple(v),
    TAG_SET: lambda v, _: set(v),
    TAG_FROZENSET: lambda v, _: frozenset(v),
    TAG_BYTEARRAY: lambda v, _: bytearray(v),
    TAG_DATETIME: _decode_datetime,
    TAG_DATE: lambda v, _: date(*v),
    TAG_TIME: _decode_time,
    TAG_TIMEDELTA: lambda v, _: timedelta(*v),
    TAG_TIMEZONE: _decode_timezone,
    TAG_ZONEINFO: _decode_zoneinfo,
    TAG_DECIMAL: lambda v, _: Decimal(v),
    TAG_ORDEREDDICT: lambda v, _: OrderedDict(v),
    TAG_COUNTER: lambda v, _: Counter(v),
    TAG_DEFAULTDICT: _decode_defaultdict,
    TAG_DEQUE: lambda v, _: deque(v[1], v[0]),
    TAG_RANGE: lambda v, _: range(*v),
    TAG_ENUM: _decode_enum,
    TAG_DATACLASS: _decode_dataclass,
    TAG_MODEL: _decode_model,
    TAG_SUBCLASS: _decode_subclass,
}


def decode(data: bytes) -> Any:
    """Return the value ``data`` encodes. Builds only the types listed above.

    Raises DecodeError if the data is not one complete CBOR value written by
    ``encode``, or names a class this process does not allow (see the module rules).
    """
    return decode_with(data, _DECODERS)


def decode_with(data: bytes, decoders: dict[int, Callable[[Any, bool], Any]]) -> Any:
    """:func:`decode` with another table of tag decoders (the audit's lenient one)."""
    stream = BytesIO(data)
    decoder = CBORDecoder(
        stream,
        semantic_decoders=decoders,
        tag_hook=_unknown_tag,
        max_depth=_MAX_DEPTH,
        allow_indefinite=False,
        allow_duplicate_keys=False,
    )
    try:
        value = decoder.decode()
    except CBORDecodeError as exc:
        raise _decode_error(exc) from None
    # The decoder reads ahead but leaves a seekable stream just after the value. (Asking
    # it to read one more byte costs a raised CBORDecodeEOF: a third of a small decode.)
    if stream.tell() != len(data):
        raise DecodeError("bytes follow the encoded value: the data is corrupt")
    return value


def _decode_error(exc: CBORDecodeError) -> DecodeError:
    cause = exc.__cause__
    if isinstance(cause, DecodeError):
        return cause
    detail = f"{exc}: {cause}" if cause is not None else str(exc)
    return DecodeError(f"not a valid encoded value ({detail})")


def register_type(cls: type) -> type:
    """Allow instances of ``cls`` in stored values and decode them back as ``cls``.

    Usable as a class decorator; returns ``cls``. Needed for a class decode must find
    before its module is imported, a class defined inside a function, a subclass of a
    builtin container or scalar, and a class used as a defaultdict's default_factory.
    Registering a second class under the same module and qualname replaces the first.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type takes a class, not {cls!r}")
    _register(cls)
    return cls
