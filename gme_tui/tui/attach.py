"""The TUI attached to a daemon (`gme-tui attach`, or plain `gme-tui` when a live daemon runs).

The same app on a different feed: the daemon's `AttachedFeed` (gme_tui.serve.client) instead of
a local pipeline, so the table, feeds, detail and status bar are the standalone ones. What differs
is kept here, small:

- a one-line bar above the status bar says what the TUI is attached to (address, daemon mode,
  pid, version, who sends the alerts), and, in red, when the daemon went away and that it is
  attaching again; the last state stays on screen meanwhile;
- each new attach starts from a clean view, rebuilt from the daemon's snapshot;
- settings, pins and mutes are refused with the reason on screen: the daemon owns the engine,
  the settings file and the alerts (the simplest honest choice: a change made here could not
  reach the daemon's engine until its restart, and a mute here would silence nothing);
- the robots shown are the daemon's (read-only); this process sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.widgets import Static

from gme_tui import format as fmt
from gme_tui.core.clock import wall_ms
from gme_tui.i18n import Catalogue
from gme_tui.tui.app import GmeApp, SettingValue, run_app
from gme_tui.tui.feed import EventFeed
from gme_tui.tui.theme import BOLD, Colours
from gme_tui.tui.view import Market
from gme_tui.tui.widgets.cells import DEFAULT_COLOURS, EN

if TYPE_CHECKING:
    from gme_tui.core.seams import AlertsView, HistoryReader
    from gme_tui.serve.client import AttachStatus
    from gme_tui.settings import Settings


class AttachFeed(EventFeed, Protocol):
    """What the attached app needs of its feed (an AttachedFeed): an EventFeed with a status."""

    @property
    def status(self) -> AttachStatus: ...

    @property
    def alerts(self) -> AlertsView: ...

    def add_listener(self, listener: Callable[[AttachStatus], None]) -> None: ...


class AttachBar(Static):
    DEFAULT_CSS = """
    AttachBar { height: 1; padding: 0 1; background: $boost; }
    """


def attach_text(status: AttachStatus, zone: tzinfo, t: Catalogue = EN, colours: Colours = DEFAULT_COLOURS) -> Text:
    """The bar's line: attached to what, or why not and that it is re-attaching."""
    daemon, a = status.daemon, t.attach
    if status.attached and daemon is not None:
        mode = t.status.modes.get(daemon.mode, daemon.mode)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(a.attached + " ", style=colours.ok + BOLD)
        text.append(a.to_daemon.format(mode=mode, pid=daemon.pid, address=status.address), style=colours.ok)
        since = fmt.clock(daemon.started_ms, zone, seconds=False)
        text.append(" · " + a.version_since.format(version=daemon.version, time=since))
        extra = " · ".join((a.alerts.format(alerts=daemon.alerts), a.read_only))
        text.append(" · " + extra, style=colours.neutral)
        return text
    text = Text(no_wrap=True, overflow="ellipsis", style=colours.error + BOLD)
    message = status.message or "…"
    text.append((a.not_attached if status.sessions else a.attaching).format(message=message))
    text.append(" · " + a.reattaching + (" · " + a.last_state if status.sessions else ""))
    return text


class AttachedApp(GmeApp):
    """GmeApp on a daemon's feed. See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        feed: AttachFeed,
        *,
        store: HistoryReader | None = None,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(settings, feed, alerts=feed.alerts, store=store, now_ms=now_ms)
        self.feed = feed
        self.attach_bar = AttachBar(id="attach")
        self._sessions_seen = 0
        feed.add_listener(self._attach_changed)

    def start(self) -> None:
        super().start()
        self.main.mount(self.attach_bar, before=self.status_bar)
        self._show_attach(self.feed.status)

    def _attach_changed(self, status: AttachStatus) -> None:
        """On the feed's loop, before a new session's snapshot arrives: start from a clean view."""
        if status.attached and status.sessions != self._sessions_seen:
            self._sessions_seen = status.sessions
            self.inbox.drain()  # the old session's last events: the snapshot supersedes them
            self.market = Market(whale_rows=self.settings.ui.whale_rows, signal_rows=self.settings.ui.signal_rows)
            self.call_later(self.tick)  # the snapshot lands in the inbox right after this: show it now
        self._show_attach(status)

    def _show_attach(self, status: AttachStatus) -> None:
        if self._started:
            self.attach_bar.update(attach_text(status, self.zone, self.t, self.colours))

    def _restyle(self) -> None:
        super()._restyle()
        self._show_attach(self.feed.status)

    def apply_settings(self, settings: Settings) -> None:
        super().apply_settings(settings)
        self._show_attach(self.feed.status)

    def _daemon(self) -> str:
        daemon, a = self.feed.status.daemon, self.t.attach
        return a.the_daemon_pid.format(pid=daemon.pid) if daemon is not None else a.the_daemon

    def save_settings(self, changes: Mapping[str, SettingValue]) -> bool:
        daemon, a = self.feed.status.daemon, self.t.attach
        where = daemon.settings_path if daemon is not None and daemon.settings_path else a.its_settings
        self.notify(a.not_saved.format(daemon=self._daemon(), where=where), severity="warning", timeout=10)
        return False

    def action_mute(self) -> None:
        self.notify(self.t.attach.not_muted.format(daemon=self._daemon()), severity="warning", timeout=10)


def run_attached(settings: Settings, feed: AttachFeed, *, store: HistoryReader | None = None) -> int:
    """Run the attached app until quit (exit codes as `run_tui`)."""
    return run_app(AttachedApp(settings, feed, store=store))
