"""The Textual app: one consumer buffer, one pipeline worker, one state update per UI tick.

Data path: the pipeline calls `_Inbox.on_events` (append only) -> a timer every `ui.refresh_ms`
drains it into `Market` and bumps the `market_version` reactive once -> watchers hand plain rows
to widgets, which only render. Filters, sort and pause are reactives too.

Health: the pipeline hands `_Inbox.on_health` its heartbeat; the tick renders the latest one. The
app never asks the source (or the alerts) for health: exchange-down alerts go out on the
pipeline's clock, not on this screen's refresh rate. Mutes: one `Mutes` shared with the alert
dispatcher; `m` toggles it and the table marks what it says is muted.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import ThemeProvider
from textual.timer import Timer
from textual.widgets import Input

from gme_tui import format as fmt
from gme_tui.core.clock import wall_ms
from gme_tui.core.mutes import Mutes
from gme_tui.core.seams import AlertsView, EventConsumer, HistoryReader, ReplayControl
from gme_tui.i18n import Catalogue, ColourConvention, catalogue, convention_for, theme_variables_for
from gme_tui.model import EXCHANGE_SHORT, EngineEvent, HealthUpdate, Scan
from gme_tui.settings import Secrets, Settings, SettingsError, load_settings, save_changes, user_settings_path
from gme_tui.tui.replay import ReplayStatus, faster, replay_status, slower
from gme_tui.tui.screens.main import REPLAY_ACTIONS, MainScreen
from gme_tui.tui.theme import Colours, colours_from
from gme_tui.tui.view import ASCENDING_FIRST, GRADE_FILTERS, Market, Row, SortSpec, grade_filter_name, visible_rows
from gme_tui.tui.widgets.cells import CellContext, Column, table_columns
from gme_tui.tui.widgets.feeds import LiquidationTicker, SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar, StatusInfo

if TYPE_CHECKING:  # the UI never imports the pipeline at runtime (layering contract)
    from gme_tui.scorecard.compute import Scorecard
    from gme_tui.tui.feed import EventFeed  # a Pipeline, or a daemon's AttachedFeed

log = logging.getLogger(__name__)

SettingValue = bool | int | float | str | list[str]
"""A value the settings screen writes into settings.toml."""


class _Inbox(EventConsumer):
    """The pipeline's consumer: append only and keep the latest health, so the engine never waits
    on the UI; the tick reads both."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.health: HealthUpdate | None = None  # the pipeline's latest heartbeat
        self.on_signal: Callable[[], None] | None = None  # called once, with the first signal seen

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        self.events.extend(events)
        landed = self.on_signal
        if landed is not None and any(isinstance(e, Scan) and any(s.signals for s in e.symbols) for e in events):
            self.on_signal = None
            landed()  # at once, on the pipeline's loop: the replay overshoots by one batch at most

    def on_health(self, update: HealthUpdate) -> None:
        self.health = update

    def drain(self) -> list[EngineEvent]:
        events, self.events = self.events, []
        return events


class GmeApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "gme-tui"
    # Declared here (Textual adds the same otherwise) so the help screen lists it with its meaning.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+p", "command_palette", "palette", show=False, priority=True, tooltip=catalogue("en").tips.palette
        ),
    ]

    grade_filter: reactive[int] = reactive(0, init=False)
    search: reactive[str] = reactive("", init=False)
    sort: reactive[SortSpec] = reactive(SortSpec(), init=False)
    paused: reactive[bool] = reactive(False, init=False)
    market_version: reactive[int] = reactive(0, init=False, always_update=True)

    def __init__(
        self,
        settings: Settings,
        pipeline: EventFeed,
        *,
        alerts: AlertsView | None = None,
        mutes: Mutes | None = None,
        on_settings_saved: Callable[[Settings], None] | None = None,
        now_ms: Callable[[], int] = wall_ms,
        secrets: Secrets | None = None,
        start_pipeline: bool = True,
        store: HistoryReader | None = None,
        replay: ReplayControl | None = None,
        scorecard: Callable[[], Scorecard] | None = None,
    ) -> None:
        """`scorecard`: this session's signal scorecard, computed on demand (None: the `c` key
        says there is none). `mutes` is shared with the alert dispatcher (default: the settings' `alerts.muted`);
        `store` feeds the history and detail screens (None: they say it is off); `replay` the
        replay's controls (None: live or demo, the replay keys are hidden)."""
        # before Textual's __init__, which asks get_css_variables for the semantic colours
        self.convention: ColourConvention = convention_for(settings.colour_convention, settings.language)
        super().__init__()
        self.settings = settings
        self.pipeline = pipeline
        self._store = store
        self.alerts = alerts
        self.mutes = mutes if mutes is not None else Mutes(settings.alerts.muted)
        self.on_settings_saved = on_settings_saved
        self.now_ms = now_ms
        self.secrets = secrets
        self.start_pipeline = start_pipeline
        self.replay = replay
        self._scorecard = scorecard
        self._allow_max = replay is not None and replay.speed <= 0  # ×max only for a --speed 0 start
        self._jump_back: float | None = None  # the speed to go back to once the next signal is in
        self._summary_shown = False
        self.market = Market(whale_rows=settings.ui.whale_rows, signal_rows=settings.ui.signal_rows)
        self.inbox = _Inbox()
        pipeline.add_consumer(self.inbox)
        self.selected: str | None = None
        self.pipeline_finished = False
        self.pipeline_error = ""
        self.crash: BaseException | None = None
        self._pending = 0
        self._shown_rows: Mapping[str, Row] = {}
        self._rows_shown = 0
        self._muted_shown: frozenset[str] = frozenset()
        self._shown_scan_ts: int | None = None  # the scan the table shows (frozen while paused)
        self._coverage: dict[str, int] = {}
        self._timer: Timer | None = None
        self._started = False
        self.zone = fmt.zone(settings.timezone)
        self.t: Catalogue = catalogue(settings.language)
        self.colours: Colours = self._make_styles()
        self.show_liquidations = False  # narrow screens: the liquidations in the whales' place (`l`)
        # perp data came (a derivatives line or a liquidation): the perp columns and the liquidation
        # pane are worth their room (a spot-only replay keeps it for spot figures)
        self._perps_seen = False
        self._columns = self._make_columns()

    @property
    def liquidations_on(self) -> bool:
        """Perp data came and some perpetual venue is on: the perp columns and the liquidation
        feed have their place (SPEC §4b)."""
        return self._perps_seen and bool(self.settings.perp_venues)

    def _make_columns(self) -> list[Column]:
        """The table's columns: with the perp flow and the OI change while `liquidations_on`."""
        return table_columns(self.settings.enabled_exchanges, self.t, perps=self.liquidations_on)

    @property
    def store(self) -> HistoryReader | None:
        """The signal and minute history (detail and history screens), None without a store."""
        return self._store

    # ------------------------------------------------------------ layout and lifecycle

    def get_default_screen(self) -> Screen[None]:
        self.main = MainScreen()
        return self.main

    # ------------------------------------------------------------ colours

    def get_css_variables(self) -> dict[str, str]:
        """Textual's theme variables plus the semantic ones ($up, $down, $neutral-text, ...) of
        the current theme in the colour convention in force (gme_tui.i18n.colours)."""
        variables = super().get_css_variables()
        dark = self.current_theme.dark
        variables.update(theme_variables_for(variables, dark=dark, convention=self.convention))
        return variables

    def _make_styles(self) -> Colours:
        return colours_from(self.get_css_variables(), self.convention)

    def _restyle(self) -> None:
        """The theme or the convention changed: new colours for CSS and for every drawn line."""
        self.colours = self._make_styles()
        self.refresh_css()
        if self._started:
            self.main.relabel()
            self._configure_feeds()
            self._show_table()
            self._show_status(self.now_ms())

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def start(self) -> None:
        """Called once by the main screen when its widgets exist: start data and the tick."""
        main = self.main
        self._started = True
        self.table = main.query_one(FlowTable)
        self.whale_ticker = main.query_one(WhaleTicker)
        self.liquidation_ticker = main.query_one(LiquidationTicker)
        self.signal_log = main.query_one(SignalLogView)
        self.status_bar = main.query_one(StatusBar)
        self.search_box = main.query_one("#search", Input)
        self._configure_feeds()
        self._show_table()  # the empty state says what it waits for
        self.table.focus()
        if self.alerts is not None:
            self.run_worker(self.alerts.start(), name="alerts", group="alerts", exit_on_error=False)
        if self.start_pipeline:
            self.run_worker(
                self._run_pipeline(), name="pipeline", group="pipeline", exclusive=True, exit_on_error=False
            )
        self._timer = self.set_interval(self.settings.ui.refresh_ms / 1000, self.tick, name="ui-tick")
        self.tick()

    async def on_unmount(self) -> None:
        if self.alerts is not None:  # flush what can go out within a few seconds; the rest stays queued
            await self.alerts.close(timeout=5.0)

    async def _run_pipeline(self) -> None:
        try:
            await self.pipeline.run()
        except Exception as error:  # a source failure ends the data, not the app: the last state stays
            log.exception("the data source failed")
            self.pipeline_error = f"{type(error).__name__}: {error}"[:200]
        finally:
            self.pipeline_finished = True

    # ------------------------------------------------------------ the tick

    def tick(self) -> None:
        """Drain the inbox into one state update, then refresh the status bar."""
        if not self._started or not self.main.is_attached:  # not yet mounted, or shutting down
            return
        events = self.inbox.drain()
        now = self.now_ms()
        if self.mutes.muted(now) != self._muted_shown:  # a mute ran out (or was set elsewhere)
            self._show_table()
        if events:
            cooldown_ms = int(self.settings.alerts.cooldown_minutes * 60_000)
            self.market.apply(events, cooldown_ms)
            if self.paused:
                self._pending += len(events)
            else:
                self.market_version += 1
        self._show_status(now)

    def watch_market_version(self) -> None:
        self._publish()

    def _publish(self) -> None:
        """Hand the current market to the widgets (the only place their data changes)."""
        market = self.market
        self._shown_rows = market.rows
        self._shown_scan_ts = market.scan.ts if market.scan is not None else None
        self._coverage = _fewest_covered(market.rows.values())
        if not self._perps_seen and (
            market.liquidations or any(row.scan.derivatives is not None for row in market.rows.values())
        ):
            self._perps_seen = True
            self._columns = self._make_columns()
            self.main.relabel()
        self.whale_ticker.show(tuple(market.whales))
        self.liquidation_ticker.show(tuple(market.liquidations))
        self.signal_log.show(tuple(market.signals.entries))
        self._show_table()

    def _show_table(self) -> None:
        table = self.table
        rows = visible_rows(
            self._shown_rows.values(),
            grade_filter=self.grade_filter,
            search=self.search,
            sort=self.sort,
            pinned=self.settings.ui.pinned,
        )
        window = self.settings.window.minutes
        notes = {
            exchange: f"{EXCHANGE_SHORT[exchange]}~{covered}m"
            for exchange, covered in self._coverage.items()
            if covered < window
        }
        self._muted_shown = self.mutes.muted(self.now_ms())
        context = CellContext(
            t=self.t,
            colours=self.colours,
            pinned=frozenset(self.settings.ui.pinned),
            muted=self._muted_shown,
        )
        self.selected = table.show(
            rows,
            columns=self._columns,
            context=context,
            sort=self.sort,
            selected=self.selected,
            header_note=notes,
            empty_text="" if rows else self._empty_text(),
        )
        self._rows_shown = len(rows)

    def _empty_text(self) -> str:
        """Why the table is empty: no scan yet, or the filters hide every row."""
        main = self.t.main
        if not self._shown_rows:
            return main.table_waiting.format(minutes=self.settings.window.minutes)
        grade = grade_filter_name(self.grade_filter, self.t)
        text = self.search.strip()
        if text and self.grade_filter:
            return main.table_empty_both.format(grade=grade, text=text)
        if text:
            return main.table_empty_search.format(text=text)
        return main.table_empty_any if self.grade_filter == 5 else main.table_empty_grade.format(grade=grade)

    def _show_status(self, now: int) -> None:
        """The latest heartbeat the pipeline handed over (before the first one: no exchanges yet,
        the source's mode), the robots' state, the view's filters."""
        update = self.inbox.health
        robots = tuple(self.alerts.status().values()) if self.alerts is not None else ()
        enabled = set(self.settings.enabled_exchanges)  # an exchange switched off leaves the bar at once
        info = StatusInfo(
            mode=update.mode if update is not None else self.pipeline.source.mode,
            health=tuple(h for h in update.exchanges if h.exchange in enabled) if update is not None else (),
            coverage=self._coverage,
            window_minutes=self.settings.window.minutes,
            now_ms=now,
            zone=self.zone,
            scan_ts=self._shown_scan_ts,
            rows_total=len(self._shown_rows),
            rows_shown=self._rows_shown,
            filter_text=self.filter_text,
            sort_text=self.sort_text,
            paused=self.paused,
            pending=self._pending,
            finished=self.pipeline_finished,
            error=self.pipeline_error,
            robots=robots,
            replay=self._replay_status(),
            t=self.t,
            colours=self.colours,
        )
        self.status_bar.show(info)

    def _replay_status(self) -> ReplayStatus | None:
        replay = self.replay
        if replay is None:
            return None
        ended = self.pipeline_finished
        status = replay_status(replay, jumping=self._jump_back is not None, ended=ended)
        if ended and status.summary and not self._summary_shown:
            self._summary_shown = True
            self._jump_back = None
            self.notify(status.summary, title=self.t.status.replay_finished, timeout=30)
        return status

    @property
    def filter_text(self) -> str:
        status = self.t.status
        parts = [status.filter_grade.format(grade=grade_filter_name(self.grade_filter, self.t))]
        if self.search:
            parts.append(status.filter_search.format(text=self.search))
        return status.filter.format(parts=self.t.common.list_sep.join(parts))

    @property
    def sort_text(self) -> str:
        title = next((c.title for c in self._columns if c.key == self.sort.column), self.sort.column)
        return f"{title}{'↓' if self.sort.descending else '↑'}"

    # ------------------------------------------------------------ reactives

    def watch_grade_filter(self) -> None:
        self._show_table()
        self._show_status(self.now_ms())

    def watch_search(self) -> None:
        self._show_table()
        self._show_status(self.now_ms())

    def watch_sort(self) -> None:
        self._show_table()
        self._show_status(self.now_ms())

    def watch_paused(self, paused: bool) -> None:
        if not paused:
            self._pending = 0
            self._publish()
        self._show_status(self.now_ms())

    # ------------------------------------------------------------ actions

    def action_grade(self, number: int) -> None:
        self.grade_filter = number

    def action_search(self) -> None:
        box = self.search_box
        box.display = True
        box.focus()

    def action_clear_search(self) -> None:
        box = self.search_box
        box.value = ""
        box.display = False
        self.search = ""
        self.table.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        box = self.search_box
        box.display = bool(event.value)
        self.table.focus()

    def action_sort_next(self) -> None:
        shown = [c.key for c in (self.table.columns or self._columns)]
        current = self.sort.column
        column = shown[(shown.index(current) + 1) % len(shown)] if current in shown else shown[0]
        self.sort = SortSpec(column, column not in ASCENDING_FIRST)

    def action_sort_reverse(self) -> None:
        self.sort = SortSpec(self.sort.column, not self.sort.descending)

    @on(FlowTable.HeaderClicked)
    def _header_clicked(self, event: FlowTable.HeaderClicked) -> None:
        if event.column == self.sort.column:
            self.action_sort_reverse()
        else:
            self.sort = SortSpec(event.column, event.column not in ASCENDING_FIRST)

    @on(FlowTable.RowSelected)
    def _row_selected(self, event: FlowTable.RowSelected) -> None:
        self.selected = event.symbol

    def action_detail(self) -> None:
        if self.selected is None:
            self.notify(self.t.notices.no_symbol, severity="warning")
            return
        from gme_tui.tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(self.selected))

    def action_settings(self) -> None:
        from gme_tui.tui.screens.settings import SettingsScreen

        self.push_screen(SettingsScreen())

    def action_history(self) -> None:
        from gme_tui.tui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen())

    def action_help(self) -> None:
        from gme_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_scorecard(self) -> None:
        """The signal scorecard of this session (SPEC §13)."""
        if self._scorecard is None:
            self.notify(self.t.notices.scorecard_off, severity="warning")  # attached, tests
            return
        from gme_tui.tui.screens.scorecard import ScorecardScreen

        self.push_screen(ScorecardScreen(self._scorecard, language=self.settings.language, colours=self.colours))

    def action_toggle_liquidations(self) -> None:
        """Narrow screens: the liquidations in the whales' place, or the whales back."""
        self.show_liquidations = not self.show_liquidations
        self.main.relabel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The replay keys exist only with a replay, the liquidation key only with a perp venue on."""
        if action == "toggle_liquidations":
            return self.liquidations_on
        return not (action in REPLAY_ACTIONS and self.replay is None)

    def action_replay_pause(self) -> None:
        """Pause / resume the replay's pacing (its data time stops), not only the screen."""
        replay = self.replay
        if replay is None:
            return
        if replay.paused:
            replay.resume()
        else:
            replay.pause()
        self._show_status(self.now_ms())

    def action_faster(self) -> None:
        self._set_speed(lambda speed: faster(speed, allow_max=self._allow_max))

    def action_slower(self) -> None:
        self._set_speed(slower)

    def _set_speed(self, step: Callable[[float], float]) -> None:
        replay = self.replay
        if replay is None:
            return
        if self._jump_back is not None:  # a speed key during a jump sets the speed it goes back to
            self._jump_back = step(self._jump_back)
        else:
            replay.set_speed(step(replay.speed))
        self._show_status(self.now_ms())

    def action_next_signal(self) -> None:
        """Play as fast as possible until the next signal reaches the UI, then at the speed before."""
        replay = self.replay
        if replay is None or self._jump_back is not None or self.pipeline_finished:
            return
        self._jump_back = replay.speed
        self.inbox.on_signal = self._landed
        replay.set_speed(0)
        replay.resume()
        self._show_status(self.now_ms())

    def _landed(self) -> None:
        """The next signal is in (called by the inbox on the pipeline's loop)."""
        if self.replay is not None and self._jump_back is not None:
            self.replay.set_speed(self._jump_back)
        self._jump_back = None

    def action_pin(self) -> None:
        symbol = self.selected
        if symbol is None:
            return
        pinned = list(self.settings.ui.pinned)
        if symbol in pinned:
            pinned.remove(symbol)
        else:
            pinned.append(symbol)
        self.save_settings({"ui.pinned": pinned})
        self._show_table()

    def action_mute(self) -> None:
        """Mute the selected symbol's alerts for `alerts.mute_minutes`, or end that mute. A symbol
        muted in the settings file stays muted until it is removed there."""
        symbol = self.selected
        if symbol is None:
            return
        now = self.now_ms()
        until = self.mutes.until(symbol, now)
        notices = self.t.notices
        if until == math.inf:
            self.notify(notices.muted_in_file.format(symbol=symbol))
            return
        if until is not None:
            self.mutes.unmute(symbol)
            self.notify(notices.alerts_on.format(symbol=symbol))
        else:
            until_ms = now + int(self.settings.alerts.mute_minutes * 60_000)
            self.mutes.mute(symbol, until_ms)
            time = fmt.clock(until_ms, self.zone, seconds=False)
            self.notify(notices.muted_until.format(symbol=symbol, time=time))
        self._show_table()

    # ------------------------------------------------------------ settings

    @property
    def settings_path(self) -> Path:
        return self.settings.source_path or user_settings_path()

    def save_settings(self, changes: Mapping[str, SettingValue]) -> bool:
        """Write the changes into the file the settings came from, reload it and apply it live.
        Returns False (and tells the user) when the file refused them."""
        path = self.settings_path
        try:
            save_changes(path, changes)
            new = load_settings(path)
        except (SettingsError, OSError) as error:
            log.warning("settings not saved: %s", error)
            self.notify(self.t.notices.not_saved.format(error=error), severity="error", timeout=8)
            return False
        self.apply_settings(new)
        if self.on_settings_saved is not None:
            try:
                self.on_settings_saved(new)
            except Exception:
                log.exception("applying the new settings failed")
                self.notify(self.t.notices.apply_failed, severity="error")
        return True

    def apply_settings(self, settings: Settings) -> None:
        """Everything the screen shows follows at once: labels, colours, zone, columns, marks. The
        figures follow with the engine's next scan under the new settings."""
        old = self.settings
        self.settings = settings
        self.zone = fmt.zone(settings.timezone)
        self.t = catalogue(settings.language)
        self.mutes.set_configured(settings.alerts.muted)
        self._columns = self._make_columns()
        if settings.ui.refresh_ms != old.ui.refresh_ms and self._timer is not None:
            self._timer.stop()
            self._timer = self.set_interval(settings.ui.refresh_ms / 1000, self.tick, name="ui-tick")
        convention = convention_for(settings.colour_convention, settings.language)
        if convention != self.convention:
            self.convention = convention
            self._restyle()
        self.main.relabel()
        self._configure_feeds()
        self._show_table()
        self._show_status(self.now_ms())

    def _configure_feeds(self) -> None:
        self.whale_ticker.configure(self.zone, self.t, self.colours)
        self.whale_ticker.set_threshold(self.settings.alerts.whale_notify_threshold)
        self.signal_log.configure(self.zone, self.t, self.colours)
        self.liquidation_ticker.configure(self.zone, self.t, self.colours)
        self.liquidation_ticker.set_threshold(self.settings.alerts.liquidation_notify_threshold)

    # ------------------------------------------------------------ palette and crashes

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """gme-tui's commands in the labels' language, and Textual's theme picker (its other
        commands duplicate keys gme-tui has, in English only)."""
        p = self.t.palette
        for number in GRADE_FILTERS:
            name = grade_filter_name(number, self.t)
            yield SystemCommand(
                p.filter.format(name=name),
                p.filter_help.format(name=name, key=number),
                lambda n=number: self.action_grade(n),
            )
        yield SystemCommand(p.search, p.search_help, self.action_search)
        yield SystemCommand(p.sort_next, p.key_help.format(key="s"), self.action_sort_next)
        yield SystemCommand(p.sort_reverse, p.key_help.format(key="S"), self.action_sort_reverse)
        yield SystemCommand(p.detail, p.detail_help, self.action_detail)
        yield SystemCommand(p.history, p.history_help, self.action_history)
        yield SystemCommand(p.settings, p.settings_help, self.action_settings)
        yield SystemCommand(p.pin, p.pin_help, self.action_pin)
        yield SystemCommand(p.mute, p.mute_help, self.action_mute)
        yield SystemCommand(p.pause, p.pause_help, self.action_pause)
        if self.liquidations_on:
            yield SystemCommand(p.liquidations, p.liquidations_help, self.action_toggle_liquidations)
        if self.replay is not None:  # the replay's own controls (space, + / -, n)
            k, tips = self.t.keys, self.t.tips
            yield SystemCommand(k.replay_pause, tips.replay_pause, self.action_replay_pause)
            yield SystemCommand(k.faster, tips.speed, self.action_faster)
            yield SystemCommand(k.slower, tips.speed, self.action_slower)
            yield SystemCommand(k.next_signal, tips.next_signal, self.action_next_signal)
        yield SystemCommand(p.keys, p.keys_help, self.action_help)
        yield SystemCommand(p.theme, p.theme_help, self.action_change_theme)

    def action_command_palette(self) -> None:
        """Textual's palette, its search field in the labels' language."""
        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=self.t.palette.placeholder))

    def action_change_theme(self) -> None:
        """Textual's theme picker, its search field in the labels' language; the semantic colours
        follow the chosen theme (theme_changed_signal -> _restyle)."""
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder=self.t.palette.theme_placeholder))

    def _handle_exception(self, error: Exception) -> None:
        # the traceback goes to the log file; run_tui prints a one-line hint on the terminal
        if self.crash is None:
            self.crash = error
            log.critical("gme-tui crashed", exc_info=error)
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self.crash is not None and "debug" not in self.features:
            self._exit_renderables.clear()
            return
        super()._print_error_renderables()


def _fewest_covered(rows: Iterable[Row]) -> dict[str, int]:
    fewest: dict[str, int] = {}
    for row in rows:
        for exchange, window in row.scan.exchanges.items():
            covered = window.covered_minutes
            if covered is not None and covered < fewest.get(exchange, 1 << 30):
                fewest[exchange] = covered
    return fewest


def _log_file() -> str | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def run_tui(
    settings: Settings,
    pipeline: EventFeed,
    *,
    alerts: AlertsView | None = None,
    mutes: Mutes | None = None,
    on_settings_saved: Callable[[Settings], None] | None = None,
    secrets: Secrets | None = None,
    store: HistoryReader | None = None,
    replay: ReplayControl | None = None,
    scorecard: Callable[[], Scorecard] | None = None,
) -> int:
    """Run the app until quit. Returns 0, or 1 after a crash (traceback in the log file, a
    one-line hint on the terminal). The arguments are GmeApp's."""
    app = GmeApp(
        settings,
        pipeline,
        alerts=alerts,
        mutes=mutes,
        on_settings_saved=on_settings_saved,
        secrets=secrets,
        store=store,
        replay=replay,
        scorecard=scorecard,
    )
    return run_app(app)


def run_app(app: GmeApp, *, headless: bool = False) -> int:
    try:
        app.run(headless=headless)
    except Exception as error:  # a failure outside the app's own loop (driver, terminal)
        app.crash = app.crash or error
        log.critical("gme-tui crashed", exc_info=error)
    if app.crash is not None:
        where = _log_file()
        notices = app.t.notices
        hint = notices.crash_details.format(path=where) if where else notices.crash_details_unknown
        problem = f"{type(app.crash).__name__}: {app.crash}"
        print(notices.crashed.format(error=problem, where=hint), file=sys.stderr)
        return 1
    return app.return_code or 0
