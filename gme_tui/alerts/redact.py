"""Keeping robot credentials out of every log line, status text and exception message.

Webhook URLs carry the robot's credential in the query (`access_token=` for DingTalk, `key=` for
WeCom), and aiohttp copies the full request URL into its exception texts. Redaction therefore
happens in three places: our own messages (`redact`), the errors we wrap (`safe_error`), and a
logging filter that scrubs every record, whoever logged it (`install_log_redaction`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gme_tui.settings import Secrets

_QUERY_CREDENTIAL = re.compile(
    r"(?P<name>access_token|key|sign|secret|token)(?P<sep>=|%3D)(?P<value>[^&\s'\"<>)\]]+)", re.IGNORECASE
)
_KEEP = 4  # characters of a credential kept so the user can tell two robots apart


def mask(value: str) -> str:
    """`abcdef123` -> `abcd…`; short or empty values vanish entirely."""
    return f"{value[:_KEEP]}…" if len(value) > 2 * _KEEP else "…"


def secret_values(secrets: Secrets) -> list[str]:
    """Every string in `secrets` that must never appear anywhere, longest first."""
    from urllib.parse import parse_qsl, urlsplit

    values: set[str] = set()
    for url in (secrets.dingtalk_webhook, secrets.wechat_webhook):
        if url:
            values.add(url)
            for _name, value in parse_qsl(urlsplit(url).query):
                if value:
                    values.add(value)
    if secrets.dingtalk_secret:
        values.add(secrets.dingtalk_secret)
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Mask credential-looking query values, and any of the literal `extra` secrets."""
    for value in extra:
        if value in text:
            text = text.replace(value, mask(value))
    return _QUERY_CREDENTIAL.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.endswith("…"):  # already masked
        return match.group(0)
    shown = "…" if match.group("name").lower() == "sign" else mask(value)
    return f"{match.group('name')}{match.group('sep')}{shown}"


def safe_error(exc: BaseException, extra: Iterable[str] = ()) -> str:
    """An exception as a one-line, redacted text (type and message)."""
    text = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}" if str(exc) else text, extra)


class RedactionFilter(logging.Filter):
    """Rewrites a record's message and exception text with credentials masked. Never drops."""

    def __init__(self, secrets: Secrets | None = None) -> None:
        super().__init__()
        self.values = secret_values(secrets) if secrets else []

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record, self.values)
        return True


def scrub_record(record: logging.LogRecord, values: Iterable[str]) -> None:
    values = list(values)
    if getattr(record, "_gme_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the raw template, still scrubbed
        message = str(record.msg)
    record.msg = redact(message, values)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        formatted = logging.Formatter().formatException(record.exc_info)
        record.exc_text = redact(formatted, values)
        record.exc_info = None  # the formatter would otherwise format the raw exception again
    elif record.exc_text:
        record.exc_text = redact(record.exc_text, values)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, values)
    record._gme_redacted = True


_lock = threading.Lock()


@dataclass(frozen=True)
class _Installed:
    record_filter: RedactionFilter
    factory: Callable[..., logging.LogRecord]
    previous: Callable[..., logging.LogRecord]


_installed: _Installed | None = None


def install_log_redaction(secrets: Secrets) -> None:
    """Scrub every log record of this process: a filter on the root logger and on each of its
    handlers, and a record factory so records of any logger, reaching any handler added later,
    are scrubbed as they are created. Calling it again replaces the secrets it knows."""
    global _installed
    uninstall_log_redaction()
    with _lock:
        record_filter = RedactionFilter(secrets)
        root = logging.getLogger()
        root.addFilter(record_filter)
        for handler in root.handlers:
            handler.addFilter(record_filter)
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            scrub_record(record, record_filter.values)
            return record

        logging.setLogRecordFactory(factory)
        _installed = _Installed(record_filter, factory, previous)


def uninstall_log_redaction() -> None:
    """Undo `install_log_redaction` (tests; a second install)."""
    global _installed
    with _lock:
        if _installed is None:
            return
        root = logging.getLogger()
        root.removeFilter(_installed.record_filter)
        for handler in root.handlers:
            handler.removeFilter(_installed.record_filter)
        if logging.getLogRecordFactory() is _installed.factory:
            logging.setLogRecordFactory(_installed.previous)
        _installed = None
