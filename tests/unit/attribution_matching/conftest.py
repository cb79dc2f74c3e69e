"""The hand-worked scenario (scenario.py) in its own tenant of the demo app's SQLite database."""
from __future__ import annotations

import pytest

from tests.unit.attribution_matching import scenario


@pytest.fixture
def brew(db) -> scenario.Scenario:
    return scenario.build(db)
