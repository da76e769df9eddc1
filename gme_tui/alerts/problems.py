"""A robot's failure as data, worded where it is shown: `gme-tui notify-test` and the status bar,
in the settings' language (issue 13, items 1 and 7); the logs keep the English of `Outcome.reason`.

A `Problem` holds what the words need (the host, the HTTP status, the errcode and its meaning,
never the webhook's path or query: those carry the credential). `problem_text` and `hint_text`
choose the words from a catalogue's `notify_test` section.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

import aiohttp
import yarl

from gme_tui.i18n.catalogue import NotifyTest, RobotAdvice, RobotMeaning

ProblemCode = Literal[
    "cannot_connect",  # refused, unreachable network, a proxy that does not answer
    "host_not_found",  # DNS
    "tls_failed",  # handshake or certificate
    "timeout",  # no answer within the request timeout
    "connection_lost",  # closed or reset before the answer
    "network_error",  # any other transport failure
    "http_status",  # an HTTP status other than 200
    "not_robot_json",  # HTTP 200 without the robot's {"errcode": ...} object
    "not_a_url",  # the webhook setting cannot be a URL
    "not_http_url",
    "robot_refused",  # the robot's own errcode (its meaning when gme-tui knows it)
]

HintCode = RobotAdvice | Literal["webhook"]
"""What to do: one of the catalogue's `advice`, or `webhook` (check this robot's webhook)."""

DINGTALK_KEYWORD = "资金流监控"
"""The keyword every gme-tui message carries (a DingTalk robot with keyword security wants it)."""

_ERRMSG_CHARS = 120


@dataclass(frozen=True)
class Problem:
    """What went wrong with one request. `host`: host[:port] of the webhook; `seconds`: the
    timeout; `status`: the HTTP status; `errcode`/`meaning`/`errmsg`: the robot's answer
    (`meaning` None for a code gme-tui does not know; `errmsg` redacted and cut); `error`: the
    exception's type name for a network error without plainer words."""

    code: ProblemCode
    host: str = ""
    seconds: float = 0.0
    status: int = 0
    errcode: int | None = None
    meaning: RobotMeaning | None = None
    errmsg: str = ""
    error: str = ""


def host_of(webhook: str) -> str:
    """`host` or `host:port` (an explicit port only): what the words may show of a webhook."""
    try:
        url = yarl.URL(webhook)
        host = url.host or ""
        return f"{host}:{url.explicit_port}" if host and url.explicit_port else host
    except (ValueError, TypeError):
        return ""


def network_problem(exc: BaseException, host: str) -> Problem:
    """The plain kind of an aiohttp/OS failure (never the exception's text: it holds the URL).
    Order matters: the DNS and TLS errors are ClientConnectorErrors too."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Problem("host_not_found", host=host)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
        return Problem("tls_failed", host=host)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Problem("cannot_connect", host=host)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionError):
        return Problem("connection_lost", host=host)
    if isinstance(exc, aiohttp.InvalidURL):
        return Problem("not_a_url")
    return Problem("network_error", host=host, error=type(exc).__name__)


def robot_refused(errcode: int, meaning: RobotMeaning | None, errmsg: str = "") -> Problem:
    return Problem("robot_refused", errcode=errcode, meaning=meaning, errmsg=errmsg[:_ERRMSG_CHARS])


def problem_text(problem: Problem, t: NotifyTest) -> str:
    """The problem in the words of `t` (one line)."""
    match problem.code:
        case "cannot_connect":
            return t.cannot_connect.format(host=problem.host)
        case "host_not_found":
            return t.host_not_found.format(host=problem.host)
        case "tls_failed":
            return t.tls_failed.format(host=problem.host)
        case "timeout":
            return t.timeout.format(seconds=f"{problem.seconds:g}")
        case "connection_lost":
            return t.connection_lost.format(host=problem.host)
        case "network_error":
            return t.network_error.format(host=problem.host, error=problem.error)
        case "http_status":
            return t.http_status.format(status=problem.status)
        case "not_robot_json":
            return t.not_robot_json
        case "not_a_url":
            return t.not_a_url
        case "not_http_url":
            return t.not_http_url
        case "robot_refused":
            meaning = (
                t.meanings[problem.meaning] if problem.meaning else t.unknown_errcode.format(errmsg=problem.errmsg)
            )
            return t.robot_refused.format(errcode=problem.errcode, meaning=meaning)


def hint_text(hint: HintCode, robot: str, t: NotifyTest, *, retryable: bool, notify_test: bool) -> str:
    """What to do, for the status bar (`notify_test` False: a retryable failure says alerts are
    retried) or for `gme-tui notify-test` (which sends once: a failure that may pass says to run
    it again later). `robot`: the robot's name in the same language."""
    if hint == "webhook":
        return t.hint_webhook.format(robot=robot)
    if hint == "network" and notify_test:
        return t.hint_network
    words = t.advice[hint].format(keyword=DINGTALK_KEYWORD)
    if not retryable:
        return words
    return (t.again if notify_test else t.retried).format(hint=words)
