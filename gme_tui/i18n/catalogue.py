"""The schema of a label catalogue: every word gme-tui shows, as typed attributes.

One instance per language (`gme_tui.i18n.en.EN`, `gme_tui.i18n.zh.ZH`). A catalogue is a tree of
frozen, slotted dataclasses, so a lookup is an attribute read (no dict is built per cell) and a
missing or misspelt key is a type error, not a blank on screen. Templates use `str.format` names:
`t.notices.muted_until.format(symbol=..., time=...)`; the tests check that both languages use the
same names in each template.

Sections follow where the words appear: `common` (shared words), `columns` (the consensus table),
`main` (panels, empty states), `status` (the status bar), `keys` (footer), `tips` (help lines and
tooltips), `palette` (command palette), `notices` (notifications), `detail`, `help`, `settings`,
`history`, `notify_test` (`gme-tui notify-test`, the robots' problems), `summary` (headless and replay summaries,
log lines), `attach` (the attached TUI's bar), `daemon` (gme_tui/serve: attach failures, the daemon's own lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gme_tui.model import Direction, HealthState, Language, Level, RobotName, SignalCode, SourceMode


@dataclass(frozen=True, slots=True)
class Common:
    levels: Mapping[Level, str]  # consensus level names (SPEC §3)
    level_meanings: Mapping[Level, str]
    signals: Mapping[SignalCode, str]  # signal names (SPEC §4)
    signal_meanings: Mapping[SignalCode, str]
    directions: Mapping[Direction, str]  # a signal's direction (SPEC §4)
    buy: str
    sell: str
    robots: Mapping[RobotName, str]
    languages: Mapping[Language, str]  # each language's own name, as the language picker lists it
    red: str  # colour words, for help lines that name the convention's colours
    green: str
    minutes: str  # {n}: a duration in minutes, short ("50m")
    repeat: str  # {count} {time}: a signal held over several scans since HH:MM
    list_sep: str  # between items of an inline list
    grade_all: str  # grade filter 0
    grade_any: str  # grade filter 5
    not_available: str  # a figure that does not exist (no coverage data)
    all_exchanges: str  # the row summing every exchange
    long: str  # a liquidated long position (SPEC §4b)
    short: str  # a liquidated short position


@dataclass(frozen=True, slots=True)
class Columns:
    """Consensus table titles (SPEC §12). Each column is at least as wide as its title plus the
    sort arrow, so keep these short (CJK characters count two cells)."""

    symbol: str
    consensus: str
    total: str
    ratio: str
    signals: str
    trend: str
    price: str
    change: str
    volume: str
    share: str
    perp: str  # perpetuals' net flow, all venues (SPEC §4b)
    oi_change: str  # open interest change over the window, %


@dataclass(frozen=True, slots=True)
class Main:
    whales_title: str
    signals_title: str
    whales_empty: str
    signals_empty: str
    table_waiting: str  # {minutes}: no scan yet
    table_empty_grade: str  # {grade}: a grade filter hides every row
    table_empty_any: str  # grade filter "any signal" hides every row
    table_empty_search: str  # {text}: the search hides every row
    table_empty_both: str  # {grade} {text}: grade filter and search together
    search_placeholder: str
    liquidations_title: str
    liquidations_empty: str


@dataclass(frozen=True, slots=True)
class Status:
    states: Mapping[HealthState, str]
    modes: Mapping[SourceMode, str]
    backfill: str
    source_error: str  # {error}
    replay_finished: str
    source_ended: str
    paused: str  # {pending}: events waiting
    paused_scan: str  # {time}: the scan the frozen rows show
    scan: str  # {time}
    waiting: str  # {minutes}
    filter: str  # {parts}
    filter_grade: str  # {grade}
    filter_search: str  # {text}
    sort: str  # {column}
    retry: str  # {attempt} {seconds}: a reconnecting exchange's next try
    retry_now: str  # {attempt}: trying now
    robot_pending: str  # {count}
    robot_stopped: str
    robot_error: str  # {robot} {problem}
    robot_sent_by: str  # {robot} {who}: another process sends this robot's alerts
    replay_paused: str  # the replay's pacing holds (not only the screen)
    speed: str  # {speed}: ×10
    speed_max: str  # speed 0: as fast as possible
    data_time: str  # {time}: the replay's data time
    jumping: str  # playing fast to the next signal
    warmup: str  # {minutes} {window}: the first window fills
    rest_weight: str  # {used} {limit}: Binance USDⓈ-M REST weight used this minute (the OI poll)


@dataclass(frozen=True, slots=True)
class Keys:
    """Footer descriptions of the keys: one or two words."""

    quit: str
    help: str
    search: str
    grades: str  # the footer group of the 0-5 grade filter keys
    sort: str
    reverse: str
    detail: str
    settings: str
    pin: str
    mute: str
    pause: str
    history: str
    back: str
    close: str
    cancel: str
    save: str
    symbol: str
    period: str
    palette: str
    clear_search: str
    up: str
    down: str
    page_up: str
    page_down: str
    top: str
    bottom: str
    replay_pause: str
    faster: str
    slower: str
    next_signal: str
    liquidations: str  # `l`: liquidations in the whales' place and back (narrow screens)
    scorecard: str  # `c`: the session's signal scorecard


@dataclass(frozen=True, slots=True)
class Tips:
    """A key's meaning: its help line and its tooltip."""

    quit: str
    help: str
    search: str
    grade: str
    sort: str
    detail: str
    settings: str
    pin: str
    mute: str
    pause: str
    history: str
    clear_search: str
    move: str
    edge: str
    palette: str
    replay_pause: str
    speed: str
    next_signal: str
    liquidations: str
    scorecard: str


@dataclass(frozen=True, slots=True)
class Palette:
    """Command palette entries: a title and its help."""

    filter: str  # {name}
    filter_help: str  # {name} {key}
    search: str
    search_help: str
    sort_next: str
    sort_reverse: str
    key_help: str  # {key}
    detail: str
    detail_help: str
    history: str
    history_help: str
    settings: str
    settings_help: str
    pin: str
    pin_help: str
    mute: str
    mute_help: str
    pause: str
    pause_help: str
    keys: str
    keys_help: str
    theme: str
    theme_help: str
    placeholder: str  # the palette's search field
    theme_placeholder: str  # the theme picker's search field
    liquidations: str
    liquidations_help: str


@dataclass(frozen=True, slots=True)
class Notices:
    no_symbol: str
    muted_in_file: str  # {symbol}
    alerts_on: str  # {symbol}
    muted_until: str  # {symbol} {time}
    not_saved: str  # {error}
    apply_failed: str
    nothing_changed: str
    saved: str  # {count} {path}
    crashed: str  # {error} {where}
    crash_details: str  # {path}
    crash_details_unknown: str
    exchange_on: str  # {exchange}
    exchange_off: str  # {exchange}
    scorecard_off: str  # no scorecard in this run (attached, tests)


@dataclass(frozen=True, slots=True)
class Detail:
    grades: str  # {grades}
    price: str
    volume: str
    net: str
    share_of_volume: str  # {share}
    ratio: str
    window: str  # {minutes} {time}
    net_per_minute: str  # {peak}: the per-exchange bars' title, with what a full bar is worth
    axis_per_minute: str
    axis_compressed: str  # {minutes} {columns}
    axis_net: str
    axis_time: str
    coverage: str
    cumulative: str
    lookback_title: str
    lookback_none: str  # {symbol}
    lookback_axis: str  # {minutes}
    net_24h: str
    lookback_unreadable: str  # {error}
    recent_whales: str
    recent_signals: str
    none_in_session: str
    not_in_scan: str  # {symbol}
    chart_net: str  # title of the per-minute bar chart (every exchange summed)
    chart_cumulative: str  # title of the cumulative line chart (one line per exchange)
    perp_title: str  # the derivatives section (SPEC §4b)
    spot: str
    perp: str
    hedge_ratio: str  # −perp total / spot total
    oi_change: str
    liquidated: str  # {long} {short}: the window's liquidated long and short value
    sampled: str  # the totals miss liquidations (a venue sends one per symbol per second)
    sampled_note: str
    perp_per_minute: str  # {peak}
    oi_title: str
    oi_start: str
    oi_end: str
    oi_delta: str  # a venue's OI change column
    oi_none: str  # no venue has OI samples at both ends of the window
    no_perp: str  # {symbol}
    chart_spot_perp: str  # title of the spot-against-perp cumulative chart
    recent_liquidations: str


@dataclass(frozen=True, slots=True)
class Help:
    title: str
    closes: str
    key: str
    mark: str
    meaning: str
    mark_pinned: str
    mark_muted: str
    mark_partial: str  # {example}: a header such as BYB~12m
    mark_grades: str
    mark_trend: str  # {up} {down}: colour words of the convention in force
    mark_share: str
    mark_perp: str
    mark_oi: str


@dataclass(frozen=True, slots=True)
class SettingsText:
    title: str  # {path}
    exchanges: str
    thresholds: str
    window_minutes: str
    strong_flow: str
    lean_total: str
    min_exchanges: str
    aplus_ratio: str
    a_min_flow: str
    a_multiple: str
    whale_threshold: str
    whale_notify: str
    cooldown: str
    alerts: str
    whale_alerts: str
    display: str
    language: str
    convention: str
    convention_auto: str
    convention_red_up: str
    convention_green_up: str
    robots: str
    dingtalk_webhook: str
    dingtalk_secret: str
    wecom_webhook: str
    not_set: str
    not_a_number: str  # {label} {text}
    not_a_whole_number: str  # {label} {text}
    save_button: str
    cancel_button: str
    not_saved_unchanged: str
    perps: str  # the perpetual venues section
    bearish_ratio: str
    b_min_perp_venues: str
    b_spot_min_flow: str
    b_spot_min_ratio: str
    b_perp_min_flow: str
    b_perp_max_ratio: str
    b_oi_min_change_pct: str
    liquidation_alerts: str
    liquidation_notify: str


@dataclass(frozen=True, slots=True)
class History:
    title: str
    period_1h: str
    period_24h: str
    period_7d: str
    period_90d: str
    col_time: str
    col_grade: str
    col_symbol: str
    col_signal: str
    col_held: str
    col_coverage: str
    off: str  # no store is open; Rich markup: a literal "[" is written "\\["
    search_placeholder: str
    unreadable: str  # {error}
    last: str  # {period}
    grade: str  # {grade}
    symbol: str  # {text}
    count: str  # {entries} {signals}
    limit: str  # {limit}
    keys: str
    empty: str


RobotMeaning = Literal[
    "security_check",
    "throttled_10_minutes",
    "token_missing",
    "group_dissolved",
    "robot_disabled",
    "not_in_group",
    "unsupported_type",
    "content_unsafe",
    "too_large",
    "busy",
    "rate_limited",
    "invalid_key",
    "too_long",
    "invalid_type",
]
"""What a robot's own error code means (the errcode tables of gme_tui/alerts/dingtalk.py, wecom.py)."""

RobotAdvice = Literal[
    "network",
    "service",
    "unknown_errcode",
    "dingtalk_security",
    "dingtalk_token",
    "new_group",
    "enable_robot",
    "add_to_group",
    "report_bug",
    "refused",
    "wait_10_minutes",
    "wait_a_minute",
    "temporary",
    "wecom_key",
]
"""What to do about a robot's failure (besides `hint_webhook`, which names the robot)."""


@dataclass(frozen=True, slots=True)
class NotifyTest:
    """`gme-tui notify-test`, and the robots' problems the status bar shows (gme_tui/alerts)."""

    no_robot: str
    enabled_without_webhook: str  # {robot} {env}
    webhook_not_enabled: str  # {robot} {env}
    delivered: str  # {robot}
    failed: str  # {robot} {reason}
    hint: str  # {hint}
    cannot_connect: str  # {host}
    host_not_found: str  # {host}
    tls_failed: str  # {host}
    timeout: str  # {seconds}
    http_status: str  # {status}
    not_robot_json: str
    hint_network: str
    hint_webhook: str  # {robot}
    connection_lost: str  # {host}: the connection closed before an answer
    network_error: str  # {host} {error}: any other network failure (error: the exception's type)
    not_a_url: str  # the webhook setting
    not_http_url: str
    robot_refused: str  # {errcode} {meaning}: the robot's own error code
    unknown_errcode: str  # {errmsg}: the meaning of an error code gme-tui does not know
    meanings: Mapping[RobotMeaning, str]
    advice: Mapping[RobotAdvice, str]  # {keyword}: the DingTalk keyword gme-tui's messages carry
    retried: str  # {hint}: the status bar's hint for a failure alerts retry
    again: str  # {hint}: notify-test's hint for a failure that may pass later
    hint_configure: str  # {env}: the status bar's hint for a robot not configured
    not_sent: str  # {robot} {reason}: the shared send ledger had no free slot
    throttled_for: str  # {seconds}
    no_free_slot: str
    minute_full: str  # {robot} {seconds}
    ledger_note: str  # {error}: notify-test goes on without the ledger
    outbox_unusable: str  # {path} {error}: the status bar's note
    ledger_unusable: str  # {path} {error}: the status bar's note


@dataclass(frozen=True, slots=True)
class Summary:
    replay_finished: str  # {parts}
    lines: str  # {n}
    trades: str  # {n}
    buckets: str  # {n}
    scans: str  # {n}
    bad_lines: str  # {n} {reasons}
    ignored: str  # {n}
    duplicates: str  # {n}
    late: str  # {n}
    stopped: str  # {trades} {scans} {whales}
    nothing_to_replay: str  # {path}
    only_bad_lines: str  # {path} {n}
    state_change: str  # {exchange} {state} {reason}
    backfill_progress: str  # {exchange} {done} {total}
    retrying: str  # {exchange} {attempt} {seconds} {reason}
    state_reason: str  # {reason}: the `reason` of state_change when there is one
    derivatives: str  # {n}
    line_one: str  # {n}: counts in the short-file lines
    lines_many: str  # {n}
    minute_one: str  # {n}
    minutes_many: str  # {n}
    derivatives_line_one: str  # {n}
    derivatives_lines_many: str  # {n}
    short_no_spot: str  # {lines}: a replay of derivatives lines only
    short_disabled_only: str  # {lines}: a replay of disabled exchanges only
    short_nothing: str
    short_window: str  # {minutes} {window}: the data ended before a full window


@dataclass(frozen=True, slots=True)
class Attach:
    """The attached TUI's bar and refusals (gme_tui/tui/attach.py, `gme-tui attach`)."""

    attached: str
    to_daemon: str  # {mode} {pid} {address}
    version_since: str  # {version} {time}
    alerts: str  # {alerts}: how the daemon sends them (its own words)
    read_only: str
    not_attached: str  # {message}
    attaching: str  # {message}
    reattaching: str
    last_state: str
    the_daemon: str
    the_daemon_pid: str  # {pid}
    its_settings: str
    not_saved: str  # {daemon} {where}
    not_muted: str  # {daemon}


@dataclass(frozen=True, slots=True)
class Daemon:
    """The daemon's words (gme_tui/serve): why an attaching TUI is not attached (client side,
    in the TUI's language), how the daemon sends alerts, and what the daemon itself says on
    stderr and to a refused client (in the daemon's language)."""

    attaching: str
    no_answer: str  # {address} {seconds}
    unreadable_frame: str  # {address} {error}
    closed: str  # {reason}
    reason_code: str  # {code}: a close without a reason
    reason_too_slow: str
    connection_closed: str
    connection_failed: str  # {address} {error}
    foreign_frame: str  # {address} {kind}
    no_socket: str  # {path}
    path_error: str  # {path} {error}
    not_a_socket: str  # {path}
    socket_of_other_user: str  # {path} {uid}
    stale_socket: str  # {address}
    no_daemon_tcp: str  # {address}
    permission_denied: str  # {address}
    cannot_reach: str  # {address} {error}
    token_refused: str  # {address}
    user_refused: str  # {address}
    other_version: str  # {address} {version} {protocol} {ours} {our_protocol}
    not_a_daemon_http: str  # {address} {status}
    no_hello: str  # {address} {seconds}
    bad_greeting: str  # {address} {kind}
    not_a_hello: str  # {address}
    unreadable_hello: str  # {address} {error}
    hello_first: str  # {address}
    no_snapshot: str  # {address}
    stopped: str  # {reason}
    stopped_plain: str
    alerts_off: str
    alerts_no_robot: str
    alerts_sending: str
    alerts_queued: str  # {sender}
    refused_protocol: str  # {version} {protocol} {theirs}
    protocol_none: str
    refused_user: str  # {uid}
    refused_token: str
    refused_log: str  # {reason}
    serving: str  # {mode} {address}
    dropped: str  # {frames}
    stale_replaced: str  # {path}
    tcp_needs_token: str
    path_too_long: str  # {path}
    not_a_socket_here: str  # {path}
    others_socket_file: str  # {path} {uid}
    cannot_serve_here: str  # {path} {error}
    cannot_open_lock: str  # {lock} {error}
    already_served: str  # {path} {holder}
    holder_pid: str  # {pid}
    cannot_create_dir: str  # {directory} {error}
    others_dir: str  # {directory} {uid}
    cannot_serve_tcp: str  # {port} {error}


@dataclass(frozen=True, slots=True)
class ScorecardText:
    """The session's signal scorecard screen (gme_tui/tui/screens/scorecard.py, SPEC §13)."""

    title: str
    session: str  # {scans} {symbols}: what the figures cover
    no_scan: str  # before the first scan after a full window
    plot_title: str  # {h}: the plot's title
    legend: str  # {h}: bars and the baseline
    header: tuple[str, ...]  # the table's columns, as `gme-tui scorecard` has them
    baseline: str  # the baseline rows' label
    directions: tuple[str, str, str]  # a signal's direction: bullish, bearish, neutral
    up: str  # {rate}: the baseline's share of scans followed by a rise
    not_applicable: str  # hits of a neutral code
    footer: str  # the keys


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every label of one language."""

    language: Language
    common: Common
    columns: Columns
    main: Main
    status: Status
    keys: Keys
    tips: Tips
    palette: Palette
    notices: Notices
    detail: Detail
    help: Help
    settings: SettingsText
    history: History
    notify_test: NotifyTest
    summary: Summary
    attach: Attach
    daemon: Daemon
    scorecard: ScorecardText
