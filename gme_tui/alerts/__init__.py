"""Alerts to DingTalk and WeCom group robots (SPEC §10, specs/webhooks.md).

Public API for the command line:
- `AlertDispatcher(settings, secrets, *, mode, clock=wall_ms, outbox_path=None, mutes=None)`: a
  pipeline consumer (`gme_tui.core.seams.EventConsumer`: `on_events`, `on_health(HealthUpdate)`)
  and the UI's `AlertsView` (`start()`, `status()`, `close()`), with `update_settings()`; it asks
  the shared `gme_tui.core.mutes.Mutes` (`mutes`, also `.mutes`) whether a symbol is muted.
  Across processes it keeps each robot within 20 messages a minute (the send ledger), delivers
  only while it holds its outbox's sender lock (`sending`, `sender()`; sender.py), and queues
  demo and replay alerts in their own outbox file (`outbox_path_for`);
- `notify_test(settings, secrets, out)`: the `notify-test` subcommand, returning its exit code;
  its message takes a slot in the shared send ledger (ledger.py) like every alert;
- `install_log_redaction(secrets)`: keep robot credentials out of every log record.
"""

from gme_tui.alerts.dispatcher import AlertDispatcher
from gme_tui.alerts.notify_test import notify_test
from gme_tui.alerts.redact import install_log_redaction, redact, uninstall_log_redaction

__all__ = [
    "AlertDispatcher",
    "install_log_redaction",
    "notify_test",
    "redact",
    "uninstall_log_redaction",
]
