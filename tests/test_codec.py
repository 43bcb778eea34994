"""The event log's codec: exact round trips, errors that name the place, safe decoding."""

from __future__ import annotations

import math
import os
import sys
import types
import zoneinfo
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import Enum, Flag, IntEnum, StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, PrivateAttr

from lograph.eventlog import DecodeError, EncodeError, decode, encode, register_type
from lograph.eventlog import _codec as codec

# --- types the tests store -----------------------------------------------------------


class Color(Enum):
    RED = "red"
    GREEN = "green"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Mode(StrEnum):
    FAST = "fast"
    SLOW = "slow"


class Perm(Flag):
    R = 1
    W = 2
    X = 4


@dataclass
class Point:
    x: Any
    y: Any = None


@dataclass(frozen=True)
class Key:
    a: Any
    b: Any = 0


@dataclass
class Derived:
    a: int
    doubled: int = field(init=False)
    log: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.doubled = self.a * 2


@dataclass(slots=True)
class Slotted:
    x: Any


class Inner(BaseModel):
    t: tuple[int, ...]
    any: Any = None


class Outer(BaseModel):
    inner: Inner
    items: list[Any] = []


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    x: int = 0


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True)
    k: str


class WithPrivate(BaseModel):
    x: int
    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)


@register_type
class MyList(list[Any]):
    pass


@register_type
class Pair(NamedTuple):
    a: Any
    b: Any


@register_type
class Bucket:
    """A plain class, registered only to serve as a defaultdict factory."""


class UnregisteredTuple(tuple[Any, ...]):
    """Not str, int, dict or list: stored only once registered."""


class _RecordingMeta(type):
    lookups: ClassVar[list[str]] = []

    def __getattr__(cls, name: str) -> Any:
        _RecordingMeta.lookups.append(name)
        raise AttributeError(name)


class NotADataclass(metaclass=_RecordingMeta):
    pass


class OddTZ(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "odd"


# --- comparing with types ------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type at every depth (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Enum):
        return a is b
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, range):
        return (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
    if isinstance(a, (datetime, time)):
        return a == b and a.fold == b.fold and same(a.tzinfo, b.tzinfo)
    if isinstance(a, timezone):
        return a == b and a.tzname(None) == b.tzname(None)
    if isinstance(a, zoneinfo.ZoneInfo):
        return a.key == b.key
    if isinstance(a, BaseModel):
        return _same_model(a, b)
    if is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, Mapping):
        return _same_mapping(a, b)
    if isinstance(a, (list, tuple, deque)):
        maxlen_ok = not isinstance(a, deque) or a.maxlen == b.maxlen
        return maxlen_ok and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, (set, frozenset)):
        by_value = {x: x for x in b}
        return a == b and all(same(x, by_value[x]) for x in a)
    return bool(a == b)


def _same_mapping(a: Any, b: Any) -> bool:
    if isinstance(a, defaultdict) and a.default_factory is not b.default_factory:
        return False
    pairs = zip(a.items(), b.items(), strict=False)
    return len(a) == len(b) and all(same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in pairs)


def _same_model(a: BaseModel, b: BaseModel) -> bool:
    return (
        same(a.__dict__, b.__dict__)
        and same(a.__pydantic_extra__, b.__pydantic_extra__)
        and same(a.__pydantic_private__, b.__pydantic_private__)
        and a.model_fields_set == b.model_fields_set
    )


def roundtrip(value: Any) -> Any:
    return decode(encode(value))


def test_same_sees_what_a_lossy_codec_would_change() -> None:
    assert not same([(1,)], [[1]])
    assert not same({"a": Level.LOW}, {"a": 1})
    assert not same(deque([1], maxlen=2), deque([1]))
    assert not same(defaultdict(list), defaultdict(set))
    assert not same({frozenset({1})}, {frozenset({True})})
    assert not same(OrderedDict(a=1, b=2), OrderedDict(b=2, a=1))
    assert same([math.nan, -0.0, Decimal("sNaN")], [math.nan, -0.0, Decimal("sNaN")])


# --- strategies ----------------------------------------------------------------------

fixed_offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
) | st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-12), max_value=timedelta(hours=12)),
    st.text(min_size=1, max_size=5),
)
tzinfos = st.none() | st.just(UTC) | fixed_offsets | st.timezones()
members = st.sampled_from([*Color, *Level, *Mode, Perm.R, Perm.R | Perm.W, Perm(0)])
ranges = st.builds(
    range, st.integers(-50, 50), st.integers(-50, 50), st.integers(1, 4) | st.integers(-4, -1)
)

hashable_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.datetimes(timezones=tzinfos)
    | st.dates()
    | st.times(timezones=tzinfos)
    | st.timedeltas()
    | st.uuids()
    | st.decimals(allow_nan=False)
    | st.fractions()
    | st.complex_numbers(allow_nan=False)
    | ranges
    | members
    | st.builds(FrozenModel, k=st.text(max_size=4))
)
leaves = (
    hashable_leaves
    | st.floats()
    | st.decimals()
    | st.binary(max_size=8).map(bytearray)
    | st.complex_numbers()
)
hashables = st.recursive(
    hashable_leaves,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.frozensets(inner, max_size=3)
        | st.builds(Key, inner, inner)
        | st.builds(Pair, inner, inner)
    ),
    max_leaves=6,
)


SMALL = 3


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=SMALL)
        | st.lists(inner, max_size=SMALL).map(tuple)
        | st.dictionaries(hashables, inner, max_size=SMALL)
        | st.sets(hashables, max_size=SMALL)
        | st.frozensets(hashables, max_size=SMALL)
        | st.builds(deque, st.lists(inner, max_size=SMALL), st.none() | st.integers(0, 4))
        | st.dictionaries(st.text(max_size=3), inner, max_size=SMALL).map(OrderedDict)
        | st.dictionaries(hashables, st.integers(), max_size=SMALL).map(Counter)
        | st.builds(
            defaultdict,
            st.sampled_from([None, list, int, Bucket, Point]),
            st.dictionaries(hashables, inner, max_size=SMALL),
        )
        | st.builds(Point, inner, inner)
        | st.builds(Slotted, inner)
        | st.builds(Inner, t=st.lists(st.integers(), max_size=SMALL).map(tuple), any=inner)
        | st.builds(
            Outer,
            inner=st.builds(Inner, t=st.just((1,)), any=inner),
            items=st.lists(inner, max_size=SMALL),
        )
        | st.builds(Loose, x=st.integers(), extra_field=inner)
        | st.builds(MyList, st.lists(inner, max_size=SMALL))
    )


values = st.recursive(leaves | hashables, _containers, max_leaves=12)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- properties ----------------------------------------------------------------------


@PROPERTY
@given(values)
def test_roundtrip_keeps_values_and_types(value: Any) -> None:
    assert same(roundtrip(value), value)


@PROPERTY
@given(values)
def test_reencoding_a_decoded_value_gives_the_same_bytes(value: Any) -> None:
    data = encode(value)
    assert encode(decode(data)) == data


@settings(max_examples=200, deadline=None)
@given(st.lists(hashables, max_size=6, unique=True))
def test_equal_sets_encode_equal_whatever_their_insertion_order(items: list[Any]) -> None:
    assert encode(set(items)) == encode(set(reversed(items)))
    assert encode(frozenset(items)) == encode(frozenset(reversed(items)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_decoding_arbitrary_bytes_returns_or_raises_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(values, st.data())
def test_decoding_corrupted_bytes_returns_or_raises_decode_error(
    value: Any, data: st.DataObject
) -> None:
    raw = bytearray(encode(value))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    try:
        decode(bytes(raw))
    except DecodeError:
        pass


# --- each type, explicitly -----------------------------------------------------------

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

EXAMPLES: dict[str, Any] = {
    "none": None,
    "bool": True,
    "int": -7,
    "bignum": 3**200,
    "negative bignum": -(3**200),
    "float": 0.1,
    "negative zero": -0.0,
    "nan": math.nan,
    "inf": -math.inf,
    "str": "héllo ✓",
    "bytes": b"\x00\xff",
    "bytearray": bytearray(b"ab"),
    "list": [1, "a", None],
    "tuple": (1, (2, 3), ()),
    "tuple in list": [(1, 2), [(3,)]],
    "dict with tuple keys": {(1, "a"): 1, (2, (3, 4)): 2},
    "dict with mixed keys": {
        1: "int",
        "1": "str",
        frozenset({1}): "frozenset",
        Color.RED: "enum",
        Key(1, (2,)): "dataclass",
        b"k": "bytes",
    },
    "set": {1, "a", (1, 2), frozenset({3})},
    "frozenset": frozenset({(1,), Level.LOW}),
    "naive datetime": datetime(2024, 2, 29, 23, 59, 59, 999999),
    "utc datetime": datetime(2024, 1, 1, tzinfo=UTC),
    "fixed offset datetime": datetime(
        2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=-3, minutes=-30), "NST")
    ),
    "zoneinfo datetime": datetime(2024, 7, 1, 9, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "ambiguous zoneinfo datetime, fold 1": datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=1),
    "date": date(1, 1, 1),
    "time": time(23, 59, 1, 5),
    "aware time": time(8, 15, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    "timedelta": timedelta(days=-3, seconds=5, microseconds=7),
    "timezone": timezone(timedelta(seconds=-1, microseconds=1)),
    "zoneinfo": NEW_YORK,
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("-1.2300E+7"),
    "decimal nan": Decimal("NaN"),
    "decimal snan": Decimal("-sNaN12"),
    "decimal infinity": Decimal("-Infinity"),
    "fraction": Fraction(-22, 7),
    "complex": complex(1.5, -0.0),
    "range": range(10, -10, -3),
    "enum": Color.GREEN,
    "int enum": Level.HIGH,
    "str enum": Mode.SLOW,
    "flag": Perm.R | Perm.X,
    "empty flag": Perm(0),
    "dataclass": Point(1, [Point((2,), {3})]),
    "frozen dataclass": Key(a=(1, 2), b=frozenset({"x"})),
    "slots dataclass": Slotted(x=(1,)),
    "pydantic with tuple field": Outer(
        inner=Inner(t=(1, 2), any=[(3,), {4}]), items=[(5,), Point(6)]
    ),
    "pydantic extras": Loose.model_validate({"x": 1, "extra": (2, 3)}),
    "frozen pydantic as key": {FrozenModel(k="a"): 1},
    "counter": Counter({"a": 3, "b": 0, "c": -2}),
    "deque": deque([1, (2,)], maxlen=5),
    "deque without maxlen": deque([1, 2]),
    "defaultdict": defaultdict(list, {"a": [1]}),
    "defaultdict without factory": defaultdict(None, {1: 2}),
    "defaultdict of registered class": defaultdict(Bucket),
    "ordered dict": OrderedDict([("b", 1), ("a", (2,))]),
    "registered list subclass": MyList([1, (2,)]),
    "registered namedtuple": Pair(1, Pair(2, 3)),
}


@pytest.mark.parametrize("value", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_roundtrip(value: Any) -> None:
    assert same(roundtrip(value), value)


def test_zoneinfo_comes_back_as_zoneinfo_with_the_same_offset() -> None:
    original = EXAMPLES["ambiguous zoneinfo datetime, fold 1"]
    decoded = roundtrip(original)
    assert type(decoded.tzinfo) is zoneinfo.ZoneInfo
    assert decoded.tzinfo.key == "America/New_York"
    assert decoded.utcoffset() == original.utcoffset() == timedelta(hours=-5)
    assert decoded.fold == 1


def test_fixed_offsets_keep_offset_and_name() -> None:
    decoded = roundtrip(EXAMPLES["fixed offset datetime"])
    assert decoded.utcoffset() == timedelta(hours=-3, minutes=-30)
    assert decoded.tzname() == "NST"
    assert roundtrip(datetime(2024, 1, 1, tzinfo=UTC)).tzinfo is UTC


def test_deque_keeps_maxlen() -> None:
    decoded = roundtrip(deque([1, 2, 3], maxlen=3))
    decoded.append(4)
    assert decoded == deque([2, 3, 4]) and decoded.maxlen == 3


def test_defaultdict_keeps_its_factory() -> None:
    decoded = roundtrip(defaultdict(list, {"a": [1]}))
    decoded["b"].append(2)
    assert decoded == {"a": [1], "b": [2]} and decoded.default_factory is list


def test_counter_stays_a_counter() -> None:
    decoded = roundtrip(Counter("abracadabra"))
    assert type(decoded) is Counter
    assert decoded.most_common(1) == [("a", 5)]


def test_int_and_str_enums_do_not_decay_to_int_and_str() -> None:
    decoded = roundtrip({"level": Level.HIGH, "mode": Mode.FAST, Level.LOW: "key"})
    assert decoded["level"] is Level.HIGH
    assert decoded["mode"] is Mode.FAST
    assert next(iter(decoded.keys() - {"level", "mode"})) is Level.LOW


def test_frozen_dataclass_stays_frozen_and_hashable() -> None:
    decoded = roundtrip({Key(1, (2,)): [Key(3)]})
    key = next(iter(decoded))
    assert key == Key(1, (2,)) and hash(key) == hash(Key(1, (2,)))
    with pytest.raises(FrozenInstanceError):
        key.a = 2  # type: ignore[misc]


def test_dataclass_init_false_fields_are_stored_and_init_is_not_rerun() -> None:
    original = Derived(a=2)
    original.doubled = 99
    original.log.append("x")
    decoded = roundtrip(original)
    assert (decoded.a, decoded.doubled, decoded.log) == (2, 99, ["x"])


def test_nested_pydantic_models_keep_classes_and_tuples() -> None:
    original = EXAMPLES["pydantic with tuple field"]
    decoded = roundtrip(original)
    assert type(decoded.inner) is Inner
    assert type(decoded.inner.t) is tuple
    assert type(decoded.inner.any[0]) is tuple and type(decoded.inner.any[1]) is set
    assert type(decoded.items[1]) is Point
    assert decoded == original and decoded.model_fields_set == original.model_fields_set


def test_pydantic_private_attributes_and_fields_set_survive() -> None:
    original = WithPrivate(x=1)
    original._cache["k"] = (1,)
    decoded = roundtrip(original)
    assert decoded._cache == {"k": (1,)} and decoded == original
    partial = roundtrip(Loose())
    assert partial.model_fields_set == set()


def test_registered_namedtuple_and_list_subclass_keep_their_type() -> None:
    decoded = roundtrip([Pair(1, (2,)), MyList([3])])
    assert type(decoded[0]) is Pair and decoded[0].b == (2,)
    assert type(decoded[1]) is MyList


def test_a_dataclass_defined_in_a_function_is_registered_when_encoded() -> None:
    @dataclass
    class Local:
        v: Any

    assert same(roundtrip(Local((1,))), Local((1,)))


def test_encoding_is_deterministic_and_keeps_dict_order() -> None:
    assert encode({"b": 1, "a": 2}) != encode({"a": 2, "b": 1})
    assert list(roundtrip({"b": 1, "a": 2})) == ["b", "a"]
    assert encode({3, 1, 2}) == encode({2, 3, 1})
    assert encode(frozenset({frozenset({1, 2}), frozenset({3})})) == encode(
        frozenset({frozenset({3}), frozenset({2, 1})})
    )


def test_shared_references_are_not_cycles() -> None:
    shared = [1]
    assert roundtrip([shared, shared]) == [[1], [1]]


# --- encode errors -------------------------------------------------------------------


def _encode_error(value: Any, path: str = "value") -> EncodeError:
    with pytest.raises(EncodeError) as info:
        encode(value, path=path)
    return info.value


def test_unknown_type_names_the_path_and_type() -> None:
    error = _encode_error({"a": [1, object()]}, path="channel 'x'")
    assert error.path == "channel 'x'['a'][1]"
    assert error.type is object
    assert "channel 'x'['a'][1]" in str(error) and "builtins.object" in str(error)
    assert isinstance(error, TypeError)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (object(), "value"),
        ((1, object()), "value[1]"),
        ({(1, object()): 2}, "value.<key 0>[1]"),
        ({"k": {"j": object()}}, "value['k']['j']"),
        (Point(1, [object()]), "value.y[0]"),
        (Outer(inner=Inner(t=(), any={"z": object()})), "value.inner.any['z']"),
        (deque([0, 1, object()]), "value[2]"),
        ({object()}, "value.<member 0>"),
        ([datetime(2024, 1, 1, tzinfo=OddTZ())], "value[0].tzinfo"),
    ],
    ids=[
        "top",
        "tuple",
        "dict key",
        "nested dict",
        "dataclass field",
        "model field",
        "deque",
        "set member",
        "tzinfo",
    ],
)
def test_error_paths(value: Any, path: str) -> None:
    assert _encode_error(value).path == path


def test_builtin_subclasses_never_decay() -> None:
    """Unregistered, a subclass is refused unless its base can rebuild it exactly (a
    Python subclass of str, int, dict or list: see the str/int/dict/list tests below)."""
    error = _encode_error({"x": UnregisteredTuple([1])})
    assert error.path == "value['x']" and error.type is UnregisteredTuple
    assert "subclasses tuple" in str(error)

    class LocalFloat(float):
        pass

    class LocalOrdered(OrderedDict[str, int]):
        pass

    class Slotted(str):
        __slots__ = ("extra",)

    assert _encode_error(LocalFloat(1.0)).type is LocalFloat
    assert "subclasses OrderedDict" in str(_encode_error(LocalOrdered()))
    assert _encode_error(Slotted("s")).type is Slotted  # its slot would be lost


class Tag(str):
    def __new__(cls, value: str) -> Tag:
        raise AssertionError("decode must not run a subclass's __new__")


class Count(int):
    pass


class Attrs(dict[str, Any]):
    def __init__(self, *args: Any) -> None:
        raise AssertionError("decode must not run a subclass's __init__")


class Rows(list[Any]):
    pass


def test_str_int_dict_and_list_subclasses_are_stored_exactly() -> None:
    tag = str.__new__(Tag, "t")
    attrs = dict.__new__(Attrs)
    dict.update(attrs, {"k": (1,)})
    attrs.note = "kept"  # type: ignore[attr-defined]
    rows = Rows([1, (2,)])

    class Local(str):  # registered when encoded, as a dataclass is
        pass

    value = [tag, Count(7), attrs, rows, Local("l")]
    back = roundtrip(value)
    assert back == value and [type(v) for v in back] == [type(v) for v in value]
    assert type(back[2]["k"]) is tuple and back[2].note == "kept" and type(back[3][1]) is tuple


def test_registering_a_builtin_subclass_makes_it_storable() -> None:
    class Tags(set[str]):
        pass

    assert _encode_error(Tags({"a"})).type is Tags
    register_type(Tags)
    assert same(roundtrip(Tags({"a"})), Tags({"a"}))


def test_defaultdict_factory_must_be_a_builtin_or_registered() -> None:
    error = _encode_error({"d": defaultdict(lambda: 0)})
    assert error.path == "value['d']" and error.type is defaultdict
    assert "<lambda>" in str(error)

    class Factory:
        pass

    assert "default_factory" in str(_encode_error(defaultdict(Factory)))
    register_type(Factory)
    assert roundtrip(defaultdict(Factory)).default_factory is Factory


def test_a_registered_plain_class_is_not_stored_as_a_value() -> None:
    error = _encode_error([Bucket()])
    assert error.type is Bucket and "defaultdict factories" in str(error)


def test_cycles_and_excessive_depth_are_encode_errors() -> None:
    loop: list[Any] = [1]
    loop.append({"again": loop})
    error = _encode_error(loop)
    assert error.path == "value[1]['again']" and "cycle" in str(error)

    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    assert "nested too deeply" in str(_encode_error(deep))


def test_strings_that_are_not_unicode_are_encode_errors() -> None:
    error = _encode_error(["ok", "\ud800"])
    assert error.path == "value[1]" and error.type is str


def test_a_zoneinfo_without_key_is_an_encode_error() -> None:
    utc_file = next((Path(p) / "UTC" for p in zoneinfo.TZPATH if (Path(p) / "UTC").is_file()), None)
    if utc_file is None:
        pytest.skip("no system time zone database")
    with utc_file.open("rb") as f:
        keyless = zoneinfo.ZoneInfo.from_file(f)
    error = _encode_error({"when": datetime(2024, 1, 1, tzinfo=keyless)})
    assert error.path == "value['when'].tzinfo" and error.type is zoneinfo.ZoneInfo


# --- decode safety -------------------------------------------------------------------


def _tagged(tag: int, value: Any) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(tag, value))


def test_a_class_in_a_module_not_imported_is_refused_and_not_imported() -> None:
    if "tabnanny" in sys.modules:
        pytest.skip("tabnanny is already imported")
    with pytest.raises(DecodeError, match=r"tabnanny:NannyNag.*register_type"):
        decode(_tagged(codec.TAG_DATACLASS, ["tabnanny:NannyNag", {}]))
    assert "tabnanny" not in sys.modules


@pytest.mark.parametrize(
    ("tag", "payload"),
    [
        (codec.TAG_DATACLASS, ["collections:OrderedDict", {}]),
        (codec.TAG_DATACLASS, ["os:system", {}]),
        (codec.TAG_ENUM, ["builtins:eval", "x"]),
        (codec.TAG_MODEL, ["subprocess:Popen", {}, None, [], None]),
        (codec.TAG_SUBCLASS, [f"{__name__}:UnregisteredTuple", [1]]),
        (codec.TAG_DATACLASS, [f"{__name__}:test_roundtrip.<locals>.Nothing", {}]),
        (codec.TAG_DATACLASS, ["no colon", {}]),
        (codec.TAG_DEFAULTDICT, ["os:system", {}]),
    ],
    ids=[
        "plain class",
        "function",
        "builtin",
        "not a model",
        "unregistered subclass",
        "local",
        "bad name",
        "factory",
    ],
)
def test_names_that_are_not_allowed_classes_are_refused(tag: int, payload: list[Any]) -> None:
    with pytest.raises(DecodeError, match="register_type"):
        decode(_tagged(tag, payload))


def test_a_class_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(DecodeError, match="not one"):
        decode(_tagged(codec.TAG_DATACLASS, [f"{__name__}:Color", {}]))


def test_lookup_never_runs_a_metaclass_getattr() -> None:
    _RecordingMeta.lookups.clear()  # pytest's collection looked the class up
    with pytest.raises(DecodeError, match="register_type"):
        decode(_tagged(codec.TAG_DATACLASS, [f"{__name__}:NotADataclass", {}]))
    assert _RecordingMeta.lookups == []


def test_lookup_never_runs_a_module_getattr() -> None:
    calls: list[str] = []
    module = types.ModuleType("lograph_test_lazy")
    module.__getattr__ = lambda name: calls.append(name)  # type: ignore[method-assign]
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(DecodeError):
            decode(_tagged(codec.TAG_DATACLASS, ["lograph_test_lazy:Thing", {}]))
    finally:
        del sys.modules[module.__name__]
    assert calls == []


def test_dataclass_fields_missing_from_old_data_take_their_defaults() -> None:
    assert decode(_tagged(codec.TAG_DATACLASS, [f"{__name__}:Point", {"x": 1}])) == Point(1, None)
    with pytest.raises(DecodeError, match="'x'"):
        decode(_tagged(codec.TAG_DATACLASS, [f"{__name__}:Point", {"y": 1}]))
    with pytest.raises(DecodeError, match="'z'"):
        decode(_tagged(codec.TAG_DATACLASS, [f"{__name__}:Point", {"x": 1, "z": 2}]))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"\x1c",
        b"\x01\x02",
        encode({"a": (1, 2)})[:-1],
        encode([1]) + b"\x00",
        b"\x62\xff\xfe",
        b"\x9f\x01\xff",
        b"\xa2\x01\x02\x01\x03",
        _tagged(35, "a+"),
        _tagged(36, "Subject: hi\n\nbody"),
        _tagged(258, [1]),
        _tagged(0, "2024-01-01T00:00:00Z"),
        cbor2.dumps([cbor2.CBORTag(28, [1]), cbor2.CBORTag(29, 0)]),
        _tagged(7_000_000, 1),
        _tagged(codec.TAG_TUPLE, 5),
        _tagged(codec.TAG_DATETIME, [2024, 13, 1, 0, 0, 0, 0, 0, None]),
        _tagged(codec.TAG_ZONEINFO, "../../etc/passwd"),
        _tagged(codec.TAG_ENUM, [f"{__name__}:Color", "BLUE"]),
    ],
)
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@pytest.mark.parametrize("size", [1, 4000, 4096, 4097, 20_000])
def test_bytes_after_a_value_are_refused_whatever_its_size(size: int) -> None:
    """The decoder reads ahead in 4 KiB chunks: a value ending anywhere in or after the
    first chunk is read back whole, and one more byte after it is corruption."""
    data = encode(["x" * size, b"y" * size])
    assert decode(data) == ["x" * size, b"y" * size]
    for junk in (b"\x00", b"\x01\x02", data):
        with pytest.raises(DecodeError, match="bytes follow"):
            decode(data + junk)


def test_only_lograph_tags_and_a_few_exact_native_ones_are_accepted() -> None:
    accepted = {2, 3, 30, 37, 43000} | set(range(codec.TAG_TUPLE, codec.TAG_SUBCLASS + 1))
    for tag in [*range(1200), 43000, 55799, 65535, codec.TAG_SUBCLASS + 1, 2**32 - 1]:
        if tag in accepted:
            continue
        for payload in (0, "x", b"\x00" * 16, [1, 2]):
            with pytest.raises(DecodeError):
                decode(_tagged(tag, payload))


# --- langchain-core messages (optional) ----------------------------------------------


def test_langchain_messages_roundtrip() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    history = [
        messages.SystemMessage("be brief"),
        messages.HumanMessage("hi", id="h1"),
        messages.AIMessage(
            "",
            tool_calls=[{"name": "search", "args": {"q": ("a", 1)}, "id": "c1"}],
            usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        ),
        messages.ToolMessage("found", tool_call_id="c1", artifact=(1, 2)),
        messages.AIMessageChunk("partial"),
    ]
    data = encode({"messages": history})
    assert b"langchain_core.messages:AIMessage" in data
    decoded = decode(data)["messages"]
    assert decoded == history
    assert [type(m) for m in decoded] == [type(m) for m in history]
    assert type(decoded[2].tool_calls[0]["args"]["q"]) is tuple
    assert type(decoded[3].artifact) is tuple


# --- public surface ------------------------------------------------------------------


def test_register_type_is_a_decorator_that_takes_classes_only() -> None:
    @register_type
    class Registered:
        pass

    assert isinstance(Registered, type)
    with pytest.raises(TypeError):
        register_type(Point(1))  # type: ignore[arg-type]


# --- how stores on disk keep bodies (eventlog/_blob.py) -----------------------------------


@settings(max_examples=300, deadline=None)
@given(values)
def test_no_encoded_value_starts_with_the_compressed_mark(value: Any) -> None:
    """A stored blob starting with 0xFF is lograph's compressed form: CBOR never does."""
    assert encode(value, path="v")[0] != 0xFF


def test_blobs_are_compressed_only_when_that_pays_and_always_read_back() -> None:
    from lograph.eventlog._blob import MIN_SIZE, pack, unpack

    prose = encode({"text": "a reply that repeats itself " * 30}, path="v")
    stored = pack(prose)
    assert stored[0] == 0xFF and len(stored) < len(prose) // 2
    assert unpack(stored) == prose
    small = encode({"n": 1}, path="v")
    assert len(small) < MIN_SIZE and pack(small) == small and unpack(small) == small
    noise = encode({"b": os.urandom(1000)}, path="v")
    assert pack(noise) == noise  # would not shrink by a quarter: kept as it is
    damaged = stored[:-5] + b"\x00" * 5
    assert unpack(damaged) == damaged  # the reader's own checks (hash, decode) name it
    assert unpack(b"") == b""
