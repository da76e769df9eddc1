"""Property: no settings document, however hostile, raises anything but a SettingsError, and every
refusal is one line in gme-tui's own words (none of msgspec's, which would mean a case is not worded).

Documents are drawn from the schema itself: its sections and keys, values near each key's bounds
and of its type, and anything TOML can hold in their place (huge integers, nan, dates, tables...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

import msgspec
import tomlkit
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from gme_tui.settings import Settings, SettingsError, load_settings, parse_settings

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)

LEAVES = st.one_of(
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, 2**64, 10**320, -(10**320)]),
    st.floats(),
    TEXT,
    st.dates(),
    st.datetimes(),
    st.times(),
)
ANYTHING = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)


def shaped(hint: object) -> st.SearchStrategy[object]:
    """A value for a spot of type `hint`: mostly of that type (near its bounds), else anything."""
    return st.one_of(typed(hint), ANYTHING)


def typed(hint: object) -> st.SearchStrategy[object]:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        meta = next(a for a in args[1:] if isinstance(a, msgspec.Meta))
        lo, hi = meta.ge, meta.le
        near = st.sampled_from([lo, hi, lo - 1, hi + 1, (lo + hi) / 2])
        return near | (st.integers() if args[0] is int else st.floats())
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return table(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from([member.value for member in hint])
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(shaped(args[0]), max_size=3)
    if origin is Mapping:
        keys = st.sampled_from([*get_args(args[0]), "kraken"]) if get_origin(args[0]) is Literal else TEXT
        return st.dictionaries(keys, shaped(args[1]), max_size=4)
    return st.booleans() if hint is bool else TEXT


def table(struct: type[msgspec.Struct]) -> st.SearchStrategy[object]:
    keys = {f.name: shaped(f.type) for f in msgspec.structs.fields(struct) if f.name != "source_path"}
    return st.fixed_dictionaries({}, optional={**keys, "bogus": ANYTHING})


def as_toml(document: object) -> str:
    try:
        return tomlkit.dumps(document)
    except Exception:  # tomlkit cannot write every value hypothesis draws (an aware time...)
        assume(False)
        raise


def assert_worded(error: SettingsError, where: str) -> None:
    message = str(error)
    assert message.startswith(f"{where}: ") and len(message.splitlines()) == 1
    assert "Expected `" not in message and "Object contains" not in message and "Invalid enum" not in message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(table(Settings))
def test_no_drawn_document_raises_anything_but_a_settings_error(document):
    text = as_toml(document)
    try:
        parse_settings(text, Path("s.toml"))
    except SettingsError as error:
        assert_worded(error, "s.toml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_no_text_raises_anything_but_a_settings_error(text):
    try:
        parse_settings(text, Path("s.toml"))
    except SettingsError as error:
        assert_worded(error, "s.toml")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_no_file_raises_anything_but_a_settings_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "settings.toml"
    path.write_bytes(data)
    try:
        load_settings(path)
    except SettingsError as error:
        assert_worded(error, str(path))


def loads(document: object) -> Settings | str:
    try:
        return parse_settings(tomlkit.dumps(document), Path("s.toml"))
    except SettingsError as error:
        return str(error)
    except Exception:  # tomlkit could not write it
        return ""


def test_the_strategy_reaches_valid_changed_settings():
    """Guards the property against a strategy that never gets past the first check. (Each kind
    of refusal has its own exact case in test_settings_hostile.py.)"""
    search = settings(max_examples=2000, database=None)
    changed = find(
        table(Settings),
        lambda d: isinstance(s := loads(d), Settings) and msgspec.structs.replace(s, source_path=None) != Settings(),
        settings=search,
    )
    assert changed  # find raises NoSuchExample when nothing matches


HOSTILE_VALUES = [
    "1" + "0" * 320,
    "-1" + "0" * 320,
    "1e999",
    "-1e999",
    "nan",
    "+inf",
    "-0",
    "-1",
    "0x7FFFFFFF",
    "1e308",
    '"x"',
    "''",
    "[]",
    "{}",
    "[1]",
    "[[1]]",
    "{a = 1}",
    "true",
    "1979-05-27",
    "07:32:00",
    "1979-05-27T07:32:00Z",
    '["A+", "Z"]',
    '["x", 1]',
]


def test_every_key_of_the_repository_file_with_every_hostile_value():
    """The fuzzing that found the OverflowError, made exhaustive: each one-line key of the shipped
    settings.toml takes each hostile value; the file loads, or is refused naming the key's line."""
    lines = (Path(__file__).resolve().parent.parent / "settings.toml").read_text(encoding="utf-8").split("\n")
    tried = 0
    for number, line in enumerate(lines, start=1):
        key = re.match(r"^\s*[a-z_]+\s*=\s*", line)
        if not key or line.rstrip().endswith("["):
            continue
        for value in HOSTILE_VALUES:
            tried += 1
            text = "\n".join([*lines[: number - 1], key.group(0) + value, *lines[number:]])
            try:
                parse_settings(text, Path("s.toml"))
            except SettingsError as error:
                assert_worded(error, "s.toml")
                assert f"(line {number}):" in str(error) or "not valid TOML" in str(error), (line, value, str(error))
    assert tried > 1000
