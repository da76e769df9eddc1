"""Labels in Chinese and English, and the colour convention that goes with each.

    t = catalogue(settings.language)
    t.columns.symbol                      # "币种" / "SYMBOL"
    t.common.levels[Level.MIXED]          # "震荡/分歧" / "Mixed"
    t.notices.muted_until.format(symbol="BTC/USDT", time="14:05")

A catalogue is built once at import; `catalogue()` is a dict read, cheap enough per frame. Hot
render paths keep the Catalogue they were configured with and read attributes, never format
per cell. This package imports only the model, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum

from gme_tui.i18n.catalogue import Catalogue
from gme_tui.i18n.colours import (
    CONVENTION_SETTINGS,
    CONVENTIONS,
    DEFAULT_CONVENTION,
    SEMANTIC_VARIABLES,
    ColourConvention,
    ConventionSetting,
    convention_for,
    theme_variables,
    theme_variables_for,
)
from gme_tui.i18n.en import EN
from gme_tui.i18n.zh import ZH
from gme_tui.model import Language

__all__ = [
    "CATALOGUES",
    "CONVENTIONS",
    "CONVENTION_SETTINGS",
    "DEFAULT_CONVENTION",
    "SEMANTIC_VARIABLES",
    "Catalogue",
    "ColourConvention",
    "ConventionSetting",
    "catalogue",
    "convention_for",
    "entries",
    "theme_variables",
    "theme_variables_for",
]

CATALOGUES: Mapping[Language, Catalogue] = {"zh": ZH, "en": EN}


def catalogue(language: Language) -> Catalogue:
    """The labels of `language` (KeyError for a language gme-tui does not have)."""
    return CATALOGUES[language]


def entries(node: object, prefix: str = "") -> dict[str, str]:
    """Every label of a catalogue (or of one of its sections) by dotted key, e.g.
    `status.states.live`; mapping keys are enum values. For tests and for translators' tools."""
    out: dict[str, str] = {}
    if isinstance(node, str):
        out[prefix] = node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            name = key.value if isinstance(key, Enum) else str(key)
            out.update(entries(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(node, tuple):  # a row of column titles
        for index, value in enumerate(node):
            out.update(entries(value, f"{prefix}.{index}"))
    elif is_dataclass(node) and not isinstance(node, type):
        for field in fields(node):
            if field.name != "language":
                out.update(entries(getattr(node, field.name), f"{prefix}.{field.name}" if prefix else field.name))
    else:
        raise TypeError(f"{prefix or 'catalogue'}: {type(node).__name__} is not a label")
    return out
