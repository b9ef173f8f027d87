"""Fixtures for end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)
