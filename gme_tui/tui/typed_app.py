"""The app as its screens see it, typed: Textual types `node.app` as `App[Any]`.

The screens cannot import `gme_tui.tui.app` at runtime (it imports them), so the type is named
under TYPE_CHECKING only and the one cast lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from gme_tui.tui.app import GmeApp


def gme_app(node: DOMNode) -> GmeApp:
    """The running GmeApp of a mounted screen or widget (raises NoActiveAppError when none runs)."""
    return cast("GmeApp", node.app)
