"""The pure engine: no I/O, no wall clock, no Textual, no ccxt. Sources feed it; consumers read it."""

from gme_tui.engine.engine import Engine, EngineConfig, scans_in, whales_in
from gme_tui.engine.rules import GRADE_OF, GRADE_ORDER, LEVELS, SIGNALS, RuleConfig

__all__ = [
    "GRADE_OF",
    "GRADE_ORDER",
    "LEVELS",
    "SIGNALS",
    "Engine",
    "EngineConfig",
    "RuleConfig",
    "scans_in",
    "whales_in",
]
