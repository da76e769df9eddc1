from __future__ import annotations

from pathlib import Path

import pytest

from gme_tui.store import Store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


@pytest.fixture
def store(store_path: Path):
    opened = Store(store_path)
    yield opened
    opened.close()
