"""Command line (SPEC §9): parse arguments, load settings once, wire a source to the engine and consumers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gme_tui import __version__
from gme_tui.alerts import AlertDispatcher, install_log_redaction, notify_test
from gme_tui.config_command import CONFIG_ACTIONS, ConfigAction, run_config
from gme_tui.core.clock import wall_ms
from gme_tui.core.mutes import Mutes
from gme_tui.core.seams import Source
from gme_tui.engine import Engine, EngineConfig
from gme_tui.format import zone
from gme_tui.i18n import catalogue
from gme_tui.logs import set_log_timezone, setup_logging
from gme_tui.model import Language, SourceMode
from gme_tui.pipeline import Pipeline
from gme_tui.scorecard import Scorecard, ScoreCollector, compute
from gme_tui.scorecard.command import add_arguments as add_scorecard_arguments
from gme_tui.scorecard.command import run_scorecard
from gme_tui.serve.protocol import TOKEN_ENV, Address, AddressError, Hello, default_socket, parse_address
from gme_tui.serve.server import DaemonFacts, ServeConfig, ServeError, StateServer
from gme_tui.settings import Secrets, Settings, SettingsError, load_settings
from gme_tui.sources.recorder import OutputPathError, record, require_parent_dir
from gme_tui.sources.replay import ReplayError, ReplaySource, finished_line
from gme_tui.store import StoreError, StoreRun, known_by_pair, restore_window, store_path_for

if TYPE_CHECKING:
    from gme_tui.headless import HeadlessPrinter

SESSION_SCORE_MINUTES = 1440  # the TUI's session scorecard keeps the last day of minutes
log = logging.getLogger("gme_tui")

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Arguments that do not fit together: one line on stderr, exit 2."""


KnownMinutes = Mapping[tuple[str, str], frozenset[int]]
"""(exchange, symbol) -> minutes restored from the store: the live source need not backfill them."""


class Arguments(argparse.Namespace):
    """The parsed command line, typed: `build_parser()` sets every one of these attributes."""

    command: Literal["record", "notify-test", "attach", "scorecard", "config"] | None
    config: str | None
    demo: bool
    replay: str | None
    speed: float | None
    headless: bool
    json: bool
    alerts: bool
    seed: int
    store: str | None
    out: str  # record only ("" otherwise)
    minutes: float | None  # record only
    standalone: bool
    socket: str | None
    serve_tcp: int | None
    no_serve: bool
    address: str | None  # attach only
    since: str | None  # scorecard only
    action: ConfigAction  # config only
    force: bool  # config init only


def build_parser() -> argparse.ArgumentParser:
    config_help = "settings file (default: ./settings.toml, then the user config dir)"
    # `--config` is taken before or after a subcommand. The subcommands' copy has no default, so
    # it sets the attribute only when given there and never hides one given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=config_help)

    parser = argparse.ArgumentParser(
        prog="gme-tui",
        description="Terminal monitor of taker fund flow on Binance, OKX, Bybit and Coinbase.",
        epilog="With no mode, gme-tui watches the live exchanges in the terminal UI.",
    )
    parser.add_argument("--config", metavar="PATH", help=config_help)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--demo", action="store_true", help="run on the built-in simulated market (no network)")
    mode.add_argument("--replay", metavar="FILE", help="run on a recorded file (.jsonl or .jsonl.gz)")
    parser.add_argument(
        "--speed", type=float, metavar="X", help="replay/demo speed: 1 = real time, 0 = as fast as possible"
    )
    parser.add_argument("--headless", action="store_true", help="no TUI: log lines on stdout")
    parser.add_argument(
        "--json", action="store_true", help="with --headless: JSON events on stdout (implies --headless)"
    )
    parser.add_argument(
        "--alerts", action="store_true", help="with --demo or --replay: send alerts too, marked as demo/replay"
    )
    parser.add_argument("--seed", type=int, default=7, metavar="N", help="the demo's random seed (default 7)")
    parser.add_argument(
        "--store", metavar="PATH", help="keep minutes, signals and whales in this SQLite file (live: on by default)"
    )
    serve = parser.add_argument_group("serve and attach")
    serve.add_argument("--standalone", action="store_true", help="live TUI: never attach to a running live daemon")
    serve.add_argument(
        "--socket", metavar="PATH", help="the daemon's Unix socket (default: live.sock / demo.sock in the runtime dir)"
    )
    serve.add_argument(
        "--serve-tcp",
        type=int,
        metavar="PORT",
        help="with --headless: also serve on 127.0.0.1:PORT (token: GME_TUI_TOKEN)",
    )
    serve.add_argument("--no-serve", action="store_true", help="with --headless: serve no socket")
    parser.add_argument("--version", action="version", version=f"gme-tui {__version__}")
    # The subcommands' own arguments, so every Arguments field exists whichever runs.
    parser.set_defaults(out="", minutes=None, address=None, since=None, action="path", force=False)

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    record = commands.add_parser("record", parents=[common], help="record the live market to a replay file")
    record.add_argument("--out", required=True, metavar="FILE", help="output file (.jsonl, or .jsonl.gz to compress)")
    record.add_argument("--minutes", type=float, metavar="N", help="stop after N minutes (default: until Ctrl+C)")
    commands.add_parser("notify-test", parents=[common], help="send a test message to every configured robot")
    scorecard = commands.add_parser(
        "scorecard", parents=[common], help="how each signal did on your data: hit rates and returns (SPEC §13)"
    )
    add_scorecard_arguments(scorecard)  # --replay FILE, --since WHEN, --json, --store PATH
    config = commands.add_parser(
        "config", parents=[common], help="where settings and data live, the settings in effect, a commented file"
    )
    config.add_argument(
        "action",
        choices=CONFIG_ACTIONS,
        help="path: where gme-tui reads and keeps things; show: the settings in effect; "
        "init: write a commented settings file to the user config dir",
    )
    config.add_argument("--force", action="store_true", help="with init: replace an existing file")
    attach = commands.add_parser("attach", parents=[common], help="open the TUI on a running daemon")
    attach.add_argument(
        "address",
        nargs="?",
        help="live | demo | a socket path | 127.0.0.1:PORT (default: the live daemon, else the demo)",
    )
    return parser


def check_arguments(args: Arguments) -> None:
    if args.json:
        args.headless = True
    if args.speed is not None:
        if not (args.demo or args.replay):
            raise UsageError("--speed goes with --demo or --replay")
        if args.speed < 0 or args.speed != args.speed:
            raise UsageError("--speed must be 0 (as fast as possible) or a positive factor")
    if args.alerts and not (args.demo or args.replay):
        log.debug("--alerts is implied in live mode")
    if args.minutes is not None and args.minutes <= 0:
        raise UsageError("--minutes must be positive")
    if (args.serve_tcp is not None or args.no_serve) and not args.headless:
        raise UsageError("--serve-tcp and --no-serve go with --headless (a TUI serves nothing)")
    if args.serve_tcp is not None and not 0 <= args.serve_tcp < 65536:
        raise UsageError("--serve-tcp takes a port number (0 picks a free one)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv, namespace=Arguments())  # exits 2 with a usage line on bad arguments
    try:
        check_arguments(args)
        settings = load_settings(args.config)
    except (UsageError, SettingsError) as problem:
        print(f"gme-tui: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    secrets = Secrets.from_environment()  # read once, like the settings
    if args.command == "record":
        return _record(args, settings, secrets)
    if args.command == "notify-test":
        return _notify_test(settings, secrets)
    if args.command == "attach":
        return _attach_command(args, settings)
    if args.command == "scorecard":
        return _scorecard(args, settings)
    if args.command == "config":
        return run_config(args.action, settings, force=args.force)
    return _monitor(args, settings, secrets)


# ---------------------------------------------------------------- the monitor


def _mode(args: Arguments) -> SourceMode:
    return SourceMode.DEMO if args.demo else SourceMode.REPLAY if args.replay else SourceMode.LIVE


def _make_source(args: Arguments, settings: Settings, mode: SourceMode, known: KnownMinutes) -> Source:
    if mode == SourceMode.REPLAY and args.replay:
        speed = args.speed if args.speed is not None else (0.0 if args.headless else 1.0)
        source = ReplaySource(
            Path(args.replay),
            speed=speed,
            exchanges=settings.enabled_exchanges,
            window_minutes=settings.window.minutes,  # exact late and duplicate checks, warm-up progress
            keep_extra_minutes=settings.window.keep_extra_minutes,
            language=settings.language,  # the short-file line
            perp_venues=settings.perp_venues,  # a venue switched off never moves the parser's data time
        )
        source.check()
        return source
    if mode == SourceMode.DEMO:
        from gme_tui.sources.simulator import SimulatedMarket

        return SimulatedMarket(
            seed=args.seed,
            speed=args.speed if args.speed is not None else 1.0,
            exchanges=settings.enabled_exchanges,
            window_minutes=settings.window.minutes,
            perp_venues=settings.perp_venues,  # SIM: the demo's perps follow the settings (SPEC §4b)
        )
    from gme_tui.sources.live import LiveSource  # ccxt loads only for a live run

    return LiveSource.from_settings(settings, known_minutes=known)


def _make_alerts(
    settings: Settings, secrets: Secrets, mode: SourceMode, wanted: bool, mutes: Mutes
) -> AlertDispatcher | None:
    """The alert dispatcher, or None where alerts must not go out (demo/replay without --alerts)."""
    if mode != SourceMode.LIVE and not wanted:
        return None
    return AlertDispatcher(settings, secrets, mode=mode, mutes=mutes)


def _monitor(args: Arguments, settings: Settings, secrets: Secrets) -> int:
    mode = _mode(args)
    setup_logging(
        level=settings.log.level, directory=settings.log.dir, to_stderr=args.headless, timezone=settings.timezone
    )
    install_log_redaction(secrets)
    if mode == SourceMode.LIVE and not args.headless and not args.standalone:
        attached = _attach_to_a_live_daemon(args, settings)  # one collector: the daemon's
        if attached is not None:
            return attached
    try:
        store_run = _open_store(args, settings, mode)
    except (StoreError, OutputPathError) as problem:
        print(f"gme-tui: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        return _run_monitor(args, settings, secrets, mode, store_run)
    finally:
        if store_run is not None:
            store_run.close()


def _run_monitor(
    args: Arguments, settings: Settings, secrets: Secrets, mode: SourceMode, store_run: StoreRun | None
) -> int:
    live = mode == SourceMode.LIVE
    minutes = store_run is not None or not args.headless  # the store and the TUI's scorecard take them
    engine = Engine(_engine_config(settings, live, minutes=minutes, replay=mode == SourceMode.REPLAY))
    known: KnownMinutes = {}
    if store_run is not None and live:  # a restart needs no warm-up: the stored window goes back in
        restored = restore_window(
            store_run.store,
            now_ms=wall_ms(),
            window_minutes=settings.window.minutes,
            exchanges=settings.enabled_exchanges,
        )
        engine.feed_many(restored)
        known = known_by_pair(restored)
        log.info("restored %d stored minutes of the window", len(restored))
    try:
        source = _make_source(args, settings, mode, known)
    except ReplayError as problem:
        print(f"gme-tui: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    pipeline = Pipeline(
        source,
        engine,
        scan_grace_ms=int(settings.window.scan_grace_seconds * 1000),
        monotonic_ms=lambda: time.monotonic_ns() // 1_000_000,  # arrivals and whale quiet time: never steps
    )
    if store_run is not None:
        pipeline.add_consumer(store_run.writer)
    mutes = Mutes(settings.alerts.muted)  # one mute state: the table marks what the alerts skip
    alerts = _make_alerts(settings, secrets, mode, args.alerts, mutes)
    if alerts is not None:
        pipeline.add_consumer(alerts)
    if args.headless:
        return _run_headless(args, settings, pipeline, alerts, store_run)
    from gme_tui.tui.app import run_tui

    replay = source if isinstance(source, ReplaySource) else None
    if replay is not None:  # the TUI's end-of-replay summary counts what the engine did
        replay.engine_stats = lambda: pipeline.engine.stats
    return run_tui(
        settings,
        pipeline,
        replay=replay,
        alerts=alerts,
        mutes=mutes,
        on_settings_saved=SettingsApplier(pipeline, alerts, live=live, minutes=minutes),
        secrets=secrets,
        store=store_run.store if store_run is not None else None,
        scorecard=_session_scorecard(settings, pipeline),
    )


def _session_scorecard(settings: Settings, pipeline: Pipeline) -> Callable[[], Scorecard]:
    """The `c` screen's scorecard of this session (SPEC §13), from what the engine closes. Kept to
    the last day plus the longest horizon and a window, so a TUI open for days stays bounded."""
    horizons = settings.scorecard.horizons
    keep = SESSION_SCORE_MINUTES + max(horizons) + settings.window.minutes
    collector = ScoreCollector(settings.window.minutes, keep_minutes=keep)
    pipeline.add_consumer(collector)
    return lambda: compute(collector.data(), horizons)


class SettingsApplier:
    """The TUI's `on_settings_saved` (issue 13 item 3): what a save in the settings screen does
    beyond the screen. The engine takes the new settings and the last boundary is re-scanned under
    them at once (figures, TOTAL, consensus, signals, coverage; `Pipeline.rescan_now`), the log
    file's time zone and the alerts follow. Called on the UI's loop, which runs the pipeline."""

    def __init__(self, pipeline: Pipeline, alerts: AlertDispatcher | None, *, live: bool, minutes: bool) -> None:
        self.pipeline = pipeline
        self.alerts = alerts
        self.live = live
        self.minutes = minutes

    def __call__(self, new: Settings) -> None:
        self.pipeline.reconfigure(_engine_config(new, self.live, minutes=self.minutes))
        set_log_timezone(new.timezone)
        if self.alerts is not None:
            self.alerts.update_settings(new)
        from gme_tui.sources.live import LiveSource

        source = self.pipeline.source
        if isinstance(source, LiveSource):  # an exchange turned on starts streaming, one turned off stops
            source.set_exchanges(new)
        self.pipeline.rescan_now()


def _engine_config(settings: Settings, live: bool, *, minutes: bool, replay: bool = False) -> EngineConfig:
    """`minutes`: the engine hands out ClosedMinutes (for the store and the TUI's scorecard).
    `replay`: the source is a ReplaySource, whose parser drops duplicate trades itself (the
    engine then keeps no ids). A reconfigure keeps the run's choice whatever is passed."""
    config = EngineConfig.from_settings(settings, live=live)
    return dataclasses.replace(config, emit_minutes=minutes, dedupe_trades=not replay)


def _open_store(args: Arguments, settings: Settings, mode: SourceMode) -> StoreRun | None:
    """The store for this run: live by default (settings [store]), replay/demo only with --store.
    An explicit --store that cannot be opened is unusable input; the default one only warns."""
    path = store_path_for(mode, settings, args.store)
    if path is None:
        return None
    if args.store:
        require_parent_dir(path, "--store")  # a typo must not become a new folder
    try:
        return StoreRun.open(path, settings, live=mode == SourceMode.LIVE)
    except StoreError as problem:
        if args.store:
            raise
        log.warning("%s; running without a store (a restart will need a new backfill)", problem)
        return None


def _run_headless(
    args: Arguments, settings: Settings, pipeline: Pipeline, alerts: AlertDispatcher | None, store_run: StoreRun | None
) -> int:
    from gme_tui.headless import HeadlessPrinter

    try:
        server = _make_server(args, settings, pipeline.source.mode, alerts, store_run)
    except ServeError as problem:
        print(f"gme-tui: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE

    # Events on stdout; each exchange's state changes and backfill progress in the log (its on_health).
    printer = HeadlessPrinter(
        sys.stdout.buffer,
        as_json=args.json,
        tz=zone(settings.timezone),
        flush_each=pipeline.source.mode != SourceMode.REPLAY,
        language=settings.language,
    )
    pipeline.add_consumer(printer)
    try:
        code = asyncio.run(_headless(pipeline, printer, alerts, server, explicit=_explicit_serve(args)))
    except BrokenPipeError:  # `gme-tui --headless --json | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at interpreter exit
        return EXIT_OK
    _summarize(pipeline, settings.language)
    return code


async def _headless(
    pipeline: Pipeline,
    printer: HeadlessPrinter,
    alerts: AlertDispatcher | None,
    server: StateServer | None = None,
    *,
    explicit: bool = False,
) -> int:
    """Run the pipeline until the source ends or SIGINT/SIGTERM; then flush output and alerts.
    `server` serves the state to attaching TUIs; a socket that cannot be served is unusable
    input when asked for (`explicit`), else a warning (another daemon serves it)."""
    loop = asyncio.get_running_loop()
    if server is not None:
        try:
            await server.start()
            pipeline.add_consumer(server)
        except ServeError as problem:
            if explicit:
                print(f"gme-tui: {problem}", file=sys.stderr)
                return EXIT_UNUSABLE
            log.warning("%s: not serving (TUIs attach to the daemon that does)", problem)
            server = None
    if alerts is not None:
        await alerts.start()
    task = asyncio.ensure_future(pipeline.run())
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    code = EXIT_OK
    try:
        await task
    except asyncio.CancelledError:
        log.info("stopping on signal")
    except ReplayError as problem:  # NothingToReplay included: one line, the summary says no more
        print(f"gme-tui: {problem}", file=sys.stderr)
        code = EXIT_UNUSABLE
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        printer.flush()
        if server is not None:
            await server.close()  # each attached TUI says "the daemon stopped" in its language
        if alerts is not None:
            await alerts.close(timeout=5.0)
    return code


def _summarize(pipeline: Pipeline, language: Language) -> None:
    stats = pipeline.engine.stats
    source = pipeline.source
    if isinstance(source, ReplaySource):
        log.info("%s", finished_line(source.summary(), stats, language=language))
    else:
        words = catalogue(language).summary
        log.info("%s", words.stopped.format(trades=stats.trades, scans=stats.scans, whales=stats.whales))


# ---------------------------------------------------------------- other commands


def _record(args: Arguments, settings: Settings, secrets: Secrets) -> int:
    setup_logging(level=settings.log.level, directory=settings.log.dir, to_stderr=True, timezone=settings.timezone)
    install_log_redaction(secrets)
    return asyncio.run(record(settings, Path(args.out), args.minutes))


def _scorecard(args: Arguments, settings: Settings) -> int:
    setup_logging(level=settings.log.level, directory=settings.log.dir, to_stderr=True, timezone=settings.timezone)
    return run_scorecard(
        settings,
        replay=args.replay,
        since=args.since,
        as_json=args.json,
        store=args.store,
        horizons=settings.scorecard.horizons,
    )


def _notify_test(settings: Settings, secrets: Secrets) -> int:
    setup_logging(level=settings.log.level, directory=settings.log.dir, to_stderr=False, timezone=settings.timezone)
    install_log_redaction(secrets)
    return asyncio.run(notify_test(settings, secrets, sys.stdout))


# ---------------------------------------------------------------- serve and attach (issue 11)


def _explicit_serve(args: Arguments) -> bool:
    return args.socket is not None or args.serve_tcp is not None


def _make_server(
    args: Arguments, settings: Settings, mode: SourceMode, alerts: AlertDispatcher | None, store_run: StoreRun | None
) -> StateServer | None:
    """The state server of a headless run: live and demo by default, a replay only when asked.
    Raises ServeError (TCP without a token)."""
    if args.no_serve or (mode == SourceMode.REPLAY and not _explicit_serve(args)):
        return None
    unix = Path(args.socket).expanduser() if args.socket else default_socket(mode)
    config = ServeConfig(unix=unix, tcp_port=args.serve_tcp, token=os.environ.get(TOKEN_ENV, "").strip())
    facts = DaemonFacts(
        mode=mode,
        window_minutes=settings.window.minutes,
        exchanges=tuple(settings.enabled_exchanges),
        settings_path=str(settings.source_path or ""),
        store_path=str(store_run.store.path) if store_run is not None else "",
        language=settings.language,
    )
    return StateServer(
        config, facts, alerts=alerts, whale_rows=settings.ui.whale_rows, signal_rows=settings.ui.signal_rows
    )


def _attach_command(args: Arguments, settings: Settings) -> int:
    """`gme-tui attach [ADDRESS]`: the TUI on a running daemon; exit 2 when none answers."""
    setup_logging(level=settings.log.level, directory=settings.log.dir, to_stderr=False, timezone=settings.timezone)
    from gme_tui.serve.client import AttachError, probe

    try:
        address = parse_address(args.address or args.socket or "") if (args.address or args.socket) else None
    except AddressError as problem:
        print(f"gme-tui: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    if address is None:  # the live daemon, else the demo one
        found = [default_socket(m) for m in (SourceMode.LIVE, SourceMode.DEMO) if os.path.lexists(default_socket(m))]
        address = Address("unix", found[0] if found else default_socket(SourceMode.LIVE))
    token = os.environ.get(TOKEN_ENV, "").strip()
    try:
        hello = asyncio.run(probe(address, token=token, language=settings.language))
    except AttachError as problem:
        print(f"gme-tui: {problem.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    return _run_attached(args, settings, address, token, hello)


def _attach_to_a_live_daemon(args: Arguments, settings: Settings) -> int | None:
    """Plain `gme-tui`: attach when a live daemon serves on its socket; None to run standalone."""
    from gme_tui.serve.client import AttachError, probe

    path = Path(args.socket).expanduser() if args.socket else default_socket(SourceMode.LIVE)
    if not os.path.lexists(path):
        return None
    address = Address("unix", path)
    try:
        hello = asyncio.run(probe(address, language=settings.language))
    except AttachError as problem:
        if problem.retry:  # nothing there (a stale socket): the usual standalone start
            log.info("%s: running standalone", problem.message)
        else:
            print(f"gme-tui: {problem.message}; running standalone (--standalone skips this)", file=sys.stderr)
        return None
    if hello.daemon.mode != SourceMode.LIVE:
        return None
    return _run_attached(args, settings, address, "", hello)


def _run_attached(args: Arguments, settings: Settings, address: Address, token: str, hello: Hello) -> int:
    from gme_tui.serve.client import AttachedFeed
    from gme_tui.store import Store
    from gme_tui.tui.attach import run_attached

    daemon = hello.daemon
    if address.kind == "unix" and daemon.settings_path and not args.config:  # the daemon's own view
        try:
            settings = load_settings(daemon.settings_path)
        except SettingsError as problem:
            log.warning("the daemon's settings not read (%s): using this TUI's", problem)
    store: Store | None = None
    if address.kind == "unix" and daemon.store_path and Path(daemon.store_path).is_file():
        try:
            store = Store(daemon.store_path)  # its history, read beside the daemon's writes (WAL)
        except StoreError as problem:
            log.warning("the daemon's store not opened (%s): history screens are off", problem)
    log.info("attaching to %s (gme-tui %s, %s daemon pid %d)", address, daemon.version, daemon.mode, daemon.pid)
    try:
        feed = AttachedFeed(address, token=token, language=settings.language)
        return run_attached(settings, feed, store=store)
    finally:
        if store is not None:
            store.close()
