"""The label catalogues (issue 13, item 1): one per language, the same keys, nothing empty, the
same template fields, each language in its own words."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from enum import Enum

import pytest

from gme_tui.engine.rules import LEVELS, SIGNALS
from gme_tui.i18n import CATALOGUES, catalogue, entries
from gme_tui.i18n.catalogue import Catalogue
from gme_tui.model import Direction, HealthState, Level, SignalCode, SourceMode

ZH, EN = entries(catalogue("zh")), entries(catalogue("en"))
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

# Words that stay in the other script on purpose: a language's own name in the picker, the
# convention's Chinese name beside its English one, the DingTalk console's own word for signing.
ENGLISH_WITH_CHINESE = {"common.languages.zh", "settings.convention_red_up", "notify_test.no_robot"}
CHINESE_WITHOUT_CHINESE = {"common.languages.en"}


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_both_catalogues_hold_exactly_the_same_keys() -> None:
    assert set(ZH) == set(EN)
    assert len(ZH) > 250  # every section is there, not an empty shell


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_label_is_empty(language: str) -> None:
    labels = ZH if language == "zh" else EN
    assert [key for key, text in labels.items() if not text.strip()] == []


def test_templates_use_the_same_fields_in_both_languages() -> None:
    differ = {key: (fields_of(ZH[key]), fields_of(EN[key])) for key in ZH if fields_of(ZH[key]) != fields_of(EN[key])}
    assert differ == {}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_template_formats_with_its_fields(language: str) -> None:
    for key, text in (ZH if language == "zh" else EN).items():
        filled = text.format(**dict.fromkeys(fields_of(text), "X"))
        assert "{" not in filled.replace("\\[", ""), key  # no stray brace, no positional field


@pytest.mark.parametrize("language", ["zh", "en"])
def test_enum_keyed_sections_cover_every_member(language: str) -> None:
    t = catalogue("zh" if language == "zh" else "en")
    wanted: list[tuple[Mapping[object, str], type[Enum]]] = [
        (t.common.levels, Level),
        (t.common.level_meanings, Level),
        (t.common.signals, SignalCode),
        (t.common.signal_meanings, SignalCode),
        (t.common.directions, Direction),
        (t.status.states, HealthState),
        (t.status.modes, SourceMode),
    ]
    for section, kind in wanted:
        assert set(section) == set(kind)
    assert set(t.common.robots) == {"dingtalk", "wecom"}
    assert set(t.common.languages) == set(CATALOGUES)


def test_the_chinese_catalogue_is_chinese_and_the_english_one_english() -> None:
    assert {key for key, text in ZH.items() if not CJK.search(text)} == CHINESE_WITHOUT_CHINESE
    assert {key for key, text in EN.items() if CJK.search(text)} == ENGLISH_WITH_CHINESE


def test_level_and_signal_names_are_the_engines() -> None:
    """The original system's names (SPEC §3, §4) must not drift between catalogue and rules."""
    for language, t in CATALOGUES.items():
        for level, label in LEVELS.items():
            assert t.common.levels[level] == label.text(language)
            assert t.common.level_meanings[level] == (label.meaning_zh if language == "zh" else label.meaning_en)
        for code, label in SIGNALS.items():
            assert t.common.signals[code] == label.text(language)
            assert t.common.signal_meanings[code] == (label.meaning_zh if language == "zh" else label.meaning_en)


def test_trader_words_in_chinese() -> None:
    """The words Chinese traders read, not machine translation."""
    t = catalogue("zh")
    assert t.main.whales_title.startswith("巨鲸")
    assert t.status.states[HealthState.BACKFILLING] == "回补中"
    assert t.detail.coverage == "覆盖"
    assert "净流入" in t.help.mark_trend and "净流出" in t.help.mark_trend
    assert t.common.buy == "买入" and t.common.sell == "卖出"


def test_a_lookup_is_an_attribute_read_on_a_shared_object() -> None:
    assert catalogue("zh") is catalogue("zh")
    assert isinstance(catalogue("en"), Catalogue)
    assert catalogue("en").columns.symbol == "SYMBOL"
    assert catalogue("zh").columns.symbol == "币种"
    with pytest.raises(AttributeError):  # slotted and frozen: no stray attribute, no edit
        catalogue("en").columns.symbol = "x"  # type: ignore[misc]
