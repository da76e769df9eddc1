"""Serve and attach (issue 11): a headless daemon serves its state on a local socket, and TUIs
attach to it instead of running a second collector.

- `protocol`: the messages (msgspec over WebSocket frames), addresses, default socket paths;
  shared by both sides, imports only the model.
- `state`, `server`: the daemon's side, a pipeline consumer (`StateServer`); never imports a source.
- `client`: the TUI's side, a Source-like feed of the daemon's events (`AttachedFeed`); never
  imports the UI, the alerts or the store.

Nothing is imported here, so each side loads only its own modules.
"""
