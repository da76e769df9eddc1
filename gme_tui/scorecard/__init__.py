"""The signal scorecard (SPEC §13): how each signal did on the user's own data.

`data` is the one input (closed minutes and signals, from a replay's events or from the store),
`compute` the pure computation, `report` its JSON and table. Building the input from a replay
file or a store, and the `gme-tui scorecard` command, live in `inputs` and `command`, which this
package does not import: a consumer (the TUI) can use the pure parts without reaching the sources.
"""

from gme_tui.scorecard.compute import (
    HORIZONS,
    BaselineScore,
    CodeScore,
    HorizonScore,
    Scorecard,
    compute,
    scan_times,
)
from gme_tui.scorecard.data import PriceSeries, ScoreCollector, ScoreData, ScoreDataBuilder, SignalMark, SymbolHistory
from gme_tui.scorecard.report import table, to_json

__all__ = [
    "HORIZONS",
    "BaselineScore",
    "CodeScore",
    "HorizonScore",
    "PriceSeries",
    "ScoreCollector",
    "ScoreData",
    "ScoreDataBuilder",
    "Scorecard",
    "SignalMark",
    "SymbolHistory",
    "compute",
    "scan_times",
    "table",
    "to_json",
]
