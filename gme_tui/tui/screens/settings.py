"""Settings screen: the common tunables, applied live and saved into the file they came from.

Only keys whose value changed are written (through `save_changes`, which keeps the user's
comments, order and other keys). Secrets are shown masked and never written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from gme_tui.model import EXCHANGES, Grade
from gme_tui.settings import LANGUAGES, Settings
from gme_tui.tui.typed_app import gme_app

if TYPE_CHECKING:
    from gme_tui.tui.app import SettingValue

SENDABLE_GRADES = tuple(g for g in Grade if g != Grade.C)  # SPEC §10: C signals are never pushed


@dataclass(frozen=True)
class NumberField:
    key: str  # dotted settings key
    label: str
    kind: type[int] | type[float]
    read: Callable[[Settings], float]


NUMBERS = (
    NumberField("window.minutes", "window (minutes)", int, lambda s: s.window.minutes),
    NumberField(
        "consensus.strong_flow", "strong level: every exchange beyond", float, lambda s: s.consensus.strong_flow
    ),
    NumberField("consensus.lean_total", "lean level: total beyond", float, lambda s: s.consensus.lean_total),
    NumberField("consensus.min_exchanges", "quorum (0 = all enabled)", int, lambda s: s.consensus.min_exchanges),
    NumberField("signals.aplus_ratio", "A+: buy/sell ratio above", float, lambda s: s.signals.aplus_ratio),
    NumberField("signals.a_min_flow", "A: Coinbase flow above", float, lambda s: s.signals.a_min_flow),
    NumberField("signals.a_multiple", "A: times the others' mean", float, lambda s: s.signals.a_multiple),
    NumberField("whales.threshold", "whale: order value from", float, lambda s: s.whales.threshold),
    NumberField(
        "alerts.whale_notify_threshold", "whale alert: value from", float, lambda s: s.alerts.whale_notify_threshold
    ),
    NumberField("alerts.cooldown_minutes", "alert cooldown (minutes)", float, lambda s: s.alerts.cooldown_minutes),
)


def mask(secret: str) -> str:
    """Enough to recognise which robot it is, never enough to use it."""
    if not secret:
        return "(not set)"
    if len(secret) <= 12:
        return "•" * 8
    return secret[:8] + "…" + "•" * 6 + secret[-2:]


def _number_id(key: str) -> str:
    return "num-" + key.replace(".", "-")


def parse_number(text: str, kind: type[int] | type[float]) -> float | int:
    cleaned = text.strip().replace(",", "").replace("_", "")
    if kind is int:
        return int(cleaned)
    return float(cleaned)


def _same(old: Sequence[str], new: Sequence[str]) -> bool:
    return tuple(old) == tuple(new)


class SettingsScreen(Screen[bool]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+q", "app.quit", "Quit", show=False),
    ]
    DEFAULT_CSS = """
    SettingsScreen VerticalScroll { padding: 0 1; }
    SettingsScreen .section { text-style: bold; color: $text-accent; margin-top: 1; }
    SettingsScreen Horizontal { height: auto; }
    SettingsScreen .row { height: 1; margin: 0; }
    SettingsScreen .row Label { width: 38; }
    SettingsScreen .row Input { width: 20; }
    SettingsScreen Checkbox { margin-right: 2; }
    SettingsScreen Select { width: 20; }
    SettingsScreen #errors { color: $error; height: auto; }
    SettingsScreen #buttons { margin-top: 1; height: 1; }
    SettingsScreen Button { margin-right: 2; }
    SettingsScreen .secret { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        app = gme_app(self)
        settings = app.settings
        with VerticalScroll():
            yield Static(f"Settings: {app.settings_path}", classes="section")
            yield Static(
                "Exchanges (off: out of the figures at once; on: live streams start at the next launch)",
                classes="section",
            )
            with Horizontal():
                for name in EXCHANGES:
                    yield Checkbox(name, settings.exchanges[name].enabled, id=f"ex-{name}", compact=True)
            yield Static("Window and thresholds", classes="section")
            for field in NUMBERS:
                with Horizontal(classes="row"):
                    yield Label(field.label)
                    yield Input(_show_number(field.read(settings)), id=_number_id(field.key), compact=True)
            yield Static("Alerts: grades sent to the robots (C signals are log only)", classes="section")
            with Horizontal():
                for grade in SENDABLE_GRADES:
                    yield Checkbox(
                        grade, grade in settings.alerts.notify_grades, id=f"grade-{_grade_id(grade)}", compact=True
                    )
                yield Checkbox("whale alerts", settings.alerts.enable_whale_notify, id="whale-notify", compact=True)
            with Horizontal(classes="row"):
                yield Label("labels language")
                yield Select(
                    [(code, code) for code in LANGUAGES],
                    value=settings.language,
                    allow_blank=False,
                    id="language",
                    compact=True,
                )
            yield Static("Robots (from the environment or .env; never saved here)", classes="section")
            secrets = app.secrets
            yield Static(f"DingTalk webhook: {mask(secrets.dingtalk_webhook if secrets else '')}", classes="secret")
            yield Static(f"DingTalk secret:  {mask(secrets.dingtalk_secret if secrets else '')}", classes="secret")
            yield Static(f"WeCom webhook:    {mask(secrets.wechat_webhook if secrets else '')}", classes="secret")
            yield Static("", id="errors")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (escape)", id="cancel", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#ex-binance", Checkbox).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def collect(self) -> tuple[dict[str, SettingValue], list[str]]:
        """The changed keys and their new values, and the fields that do not parse."""
        settings = gme_app(self).settings
        changes: dict[str, SettingValue] = {}
        errors: list[str] = []
        for name in EXCHANGES:
            enabled = self.query_one(f"#ex-{name}", Checkbox).value
            if enabled != settings.exchanges[name].enabled:
                changes[f"exchanges.{name}.enabled"] = enabled
        for field in NUMBERS:
            text = self.query_one(f"#{_number_id(field.key)}", Input).value
            try:
                value = parse_number(text, field.kind)
            except ValueError:
                errors.append(f"{field.label}: {text!r} is not a {'whole ' if field.kind is int else ''}number")
                continue
            if value != field.read(settings):
                changes[field.key] = value
        grades = [g for g in SENDABLE_GRADES if self.query_one(f"#grade-{_grade_id(g)}", Checkbox).value]
        if not _same(grades, settings.alerts.notify_grades):
            changes["alerts.notify_grades"] = [grade.value for grade in grades]
        whale_notify = self.query_one("#whale-notify", Checkbox).value
        if whale_notify != settings.alerts.enable_whale_notify:
            changes["alerts.enable_whale_notify"] = whale_notify
        select: Select[str] = self.query_one("#language", Select)
        language = select.value
        if isinstance(language, str) and language != settings.language:  # never blank: allow_blank=False
            changes["language"] = language
        return changes, errors

    def action_save(self) -> None:
        app = gme_app(self)
        changes, errors = self.collect()
        box = self.query_one("#errors", Static)
        if errors:
            box.update("\n".join(errors))
            return
        if not changes:
            app.notify("nothing changed")
            self.dismiss(False)
            return
        if app.save_settings(changes):
            app.notify(f"saved {len(changes)} setting(s) to {app.settings_path}")
            self.dismiss(True)
        else:
            box.update("not saved: see the message above; the file is unchanged")


def _grade_id(grade: Grade) -> str:
    return grade.replace("+", "plus")


def _show_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}".replace(",", "_") if abs(value) >= 10_000 else str(int(value))
    return str(value)
