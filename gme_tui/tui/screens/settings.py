"""Settings screen: the common tunables, applied live and saved into the file they came from.

Only keys whose value changed are written (through `save_changes`, which keeps the user's
comments, order and other keys). Secrets are shown masked and never written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from gme_tui.i18n import CONVENTION_SETTINGS, Catalogue, ConventionSetting
from gme_tui.i18n.catalogue import SettingsText
from gme_tui.model import EXCHANGES, ExchangeId, Grade
from gme_tui.settings import LANGUAGES, Settings
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.widgets.cells import fit
from gme_tui.tui.widgets.keybar import KeyBar, KeyItem

if TYPE_CHECKING:
    from gme_tui.tui.app import SettingValue

SENDABLE_GRADES = tuple(g for g in Grade if g != Grade.C)  # SPEC §10: C signals are never pushed
EXCHANGE_NAMES: Mapping[ExchangeId, str] = {
    "binance": "Binance",
    "okx": "OKX",
    "bybit": "Bybit",
    "coinbase": "Coinbase",
}


@dataclass(frozen=True)
class NumberField:
    key: str  # dotted settings key
    label: Callable[[SettingsText], str]
    kind: type[int] | type[float]
    read: Callable[[Settings], float]


NUMBERS = (
    NumberField("window.minutes", lambda t: t.window_minutes, int, lambda s: s.window.minutes),
    NumberField("consensus.strong_flow", lambda t: t.strong_flow, float, lambda s: s.consensus.strong_flow),
    NumberField("consensus.lean_total", lambda t: t.lean_total, float, lambda s: s.consensus.lean_total),
    NumberField("consensus.min_exchanges", lambda t: t.min_exchanges, int, lambda s: s.consensus.min_exchanges),
    NumberField("signals.aplus_ratio", lambda t: t.aplus_ratio, float, lambda s: s.signals.aplus_ratio),
    NumberField("signals.a_min_flow", lambda t: t.a_min_flow, float, lambda s: s.signals.a_min_flow),
    NumberField("signals.a_multiple", lambda t: t.a_multiple, float, lambda s: s.signals.a_multiple),
    NumberField("signals.bearish_ratio", lambda t: t.bearish_ratio, float, lambda s: s.signals.bearish_ratio),
    NumberField("signals.b_min_perp_venues", lambda t: t.b_min_perp_venues, int, lambda s: s.signals.b_min_perp_venues),
    NumberField("signals.b_spot_min_flow", lambda t: t.b_spot_min_flow, float, lambda s: s.signals.b_spot_min_flow),
    NumberField("signals.b_spot_min_ratio", lambda t: t.b_spot_min_ratio, float, lambda s: s.signals.b_spot_min_ratio),
    NumberField("signals.b_perp_min_flow", lambda t: t.b_perp_min_flow, float, lambda s: s.signals.b_perp_min_flow),
    NumberField("signals.b_perp_max_ratio", lambda t: t.b_perp_max_ratio, float, lambda s: s.signals.b_perp_max_ratio),
    NumberField(
        "signals.b_oi_min_change_pct", lambda t: t.b_oi_min_change_pct, float, lambda s: s.signals.b_oi_min_change_pct
    ),
    NumberField("whales.threshold", lambda t: t.whale_threshold, float, lambda s: s.whales.threshold),
    NumberField(
        "alerts.whale_notify_threshold", lambda t: t.whale_notify, float, lambda s: s.alerts.whale_notify_threshold
    ),
    NumberField(
        "alerts.liquidation_notify_threshold",
        lambda t: t.liquidation_notify,
        float,
        lambda s: s.alerts.liquidation_notify_threshold,
    ),
    NumberField("alerts.cooldown_minutes", lambda t: t.cooldown, float, lambda s: s.alerts.cooldown_minutes),
)
PERP_EXCHANGES: tuple[ExchangeId, ...] = EXCHANGES
"""Exchanges with a perp venue (SPEC §4b): the USDT swaps of Binance, OKX, Bybit; Coinbase's US
perp-style futures (off by default)."""


def settings_keys(t: Catalogue) -> list[KeyItem]:
    return [
        KeyItem("ctrl+s", t.keys.save, "save"),
        KeyItem("escape", t.keys.cancel, "cancel"),
    ]


def convention_label(text: SettingsText, choice: ConventionSetting) -> str:
    if choice == "red-up":
        return text.convention_red_up
    if choice == "green-up":
        return text.convention_green_up
    return text.convention_auto


def mask(secret: str, not_set: str = "(not set)") -> str:
    """Enough to recognise which robot it is, never enough to use it."""
    if not secret:
        return not_set
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
    SettingsScreen Select { width: 1fr; max-width: 46; }
    SettingsScreen #errors { color: $error; height: auto; }
    SettingsScreen #buttons { margin-top: 1; height: 1; }
    SettingsScreen Button { margin-right: 2; }
    SettingsScreen .secret { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        app = gme_app(self)
        settings, t = app.settings, app.t
        text = t.settings
        with VerticalScroll():
            yield Static(text.title.format(path=app.settings_path), classes="section")
            yield Static(text.exchanges, classes="section")
            with Horizontal():
                for name in EXCHANGES:
                    yield Checkbox(
                        EXCHANGE_NAMES[name], settings.exchanges[name].enabled, id=f"ex-{name}", compact=True
                    )
            yield Static(text.perps, classes="section")
            with Horizontal():
                for name in PERP_EXCHANGES:
                    yield Checkbox(EXCHANGE_NAMES[name], settings.exchanges[name].perp, id=f"perp-{name}", compact=True)
            yield Static(text.thresholds, classes="section")
            for field in NUMBERS:
                with Horizontal(classes="row"):
                    yield Label(field.label(text))
                    yield Input(_show_number(field.read(settings)), id=_number_id(field.key), compact=True)
            yield Static(text.alerts, classes="section")
            with Horizontal():
                for grade in SENDABLE_GRADES:
                    yield Checkbox(
                        grade, grade in settings.alerts.notify_grades, id=f"grade-{_grade_id(grade)}", compact=True
                    )
                yield Checkbox(text.whale_alerts, settings.alerts.enable_whale_notify, id="whale-notify", compact=True)
                yield Checkbox(
                    text.liquidation_alerts,
                    settings.alerts.enable_liquidation_notify,
                    id="liquidation-notify",
                    compact=True,
                )
            yield Static(text.display, classes="section")
            with Horizontal(classes="row"):
                yield Label(text.language)
                yield Select(
                    [(t.common.languages[code], code) for code in LANGUAGES],
                    value=settings.language,
                    allow_blank=False,
                    id="language",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Label(text.convention)
                yield Select(
                    [(convention_label(text, choice), choice) for choice in CONVENTION_SETTINGS],
                    value=settings.colour_convention,
                    allow_blank=False,
                    id="convention",
                    compact=True,
                )
            yield Static(text.robots, classes="section")
            secrets = app.secrets
            rows = (
                (text.dingtalk_webhook, secrets.dingtalk_webhook if secrets else ""),
                (text.dingtalk_secret, secrets.dingtalk_secret if secrets else ""),
                (text.wecom_webhook, secrets.wechat_webhook if secrets else ""),
            )
            label_width = max(cell_len(label) for label, _ in rows) + 2
            for label, secret in rows:
                yield Static(fit(label + ":", label_width, "left") + mask(secret, text.not_set), classes="secret")
            yield Static("", id="errors")
            with Horizontal(id="buttons"):
                yield Button(text.save_button, id="save", variant="primary", compact=True)
                yield Button(text.cancel_button, id="cancel", compact=True)
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        app = gme_app(self)
        self.query_one(KeyBar).show(settings_keys(app.t), colours=app.colours)
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
        app = gme_app(self)
        settings, text = app.settings, app.t.settings
        changes: dict[str, SettingValue] = {}
        errors: list[str] = []
        for name in EXCHANGES:
            enabled = self.query_one(f"#ex-{name}", Checkbox).value
            if enabled != settings.exchanges[name].enabled:
                changes[f"exchanges.{name}.enabled"] = enabled
        for name in PERP_EXCHANGES:
            perp = self.query_one(f"#perp-{name}", Checkbox).value
            if perp != settings.exchanges[name].perp:
                changes[f"exchanges.{name}.perp"] = perp
        for field in NUMBERS:
            typed = self.query_one(f"#{_number_id(field.key)}", Input).value
            try:
                value = parse_number(typed, field.kind)
            except ValueError:
                wrong = text.not_a_whole_number if field.kind is int else text.not_a_number
                errors.append(wrong.format(label=field.label(text), text=repr(typed)))
                continue
            if value != field.read(settings):
                changes[field.key] = value
        grades = [g for g in SENDABLE_GRADES if self.query_one(f"#grade-{_grade_id(g)}", Checkbox).value]
        if not _same(grades, settings.alerts.notify_grades):
            changes["alerts.notify_grades"] = [grade.value for grade in grades]
        whale_notify = self.query_one("#whale-notify", Checkbox).value
        if whale_notify != settings.alerts.enable_whale_notify:
            changes["alerts.enable_whale_notify"] = whale_notify
        liquidation_notify = self.query_one("#liquidation-notify", Checkbox).value
        if liquidation_notify != settings.alerts.enable_liquidation_notify:
            changes["alerts.enable_liquidation_notify"] = liquidation_notify
        select: Select[str] = self.query_one("#language", Select)
        language = select.value
        if isinstance(language, str) and language != settings.language:  # never blank: allow_blank=False
            changes["language"] = language
        convention: Select[str] = self.query_one("#convention", Select)
        if isinstance(convention.value, str) and convention.value != settings.colour_convention:
            changes["colour_convention"] = convention.value
        return changes, errors

    def action_save(self) -> None:
        app = gme_app(self)
        changes, errors = self.collect()
        box = self.query_one("#errors", Static)
        if errors:
            box.update("\n".join(errors))
            return
        notices = app.t.notices
        if not changes:
            app.notify(notices.nothing_changed)
            self.dismiss(False)
            return
        if app.save_settings(changes):
            app.notify(app.t.notices.saved.format(count=len(changes), path=app.settings_path))  # the new language
            self.dismiss(True)
        else:
            box.update(app.t.settings.not_saved_unchanged)


def _grade_id(grade: Grade) -> str:
    return grade.replace("+", "plus")


def _show_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}".replace(",", "_") if abs(value) >= 10_000 else str(int(value))
    return str(value)
