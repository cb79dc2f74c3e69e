"""The test tiers carry their markers: each tier's conftest marks its own tests, and no other tier's."""
from pathlib import Path

import pytest

from tests.e2e import conftest as e2e
from tests.integration import conftest as integration

TESTS = Path(__file__).resolve().parents[1]


class _Item:
    def __init__(self, path: Path):
        self.path, self.marks = path, []

    def add_marker(self, mark):
        self.marks.append(mark.name)


@pytest.mark.parametrize("hook, mark", [(integration.pytest_collection_modifyitems, "integration"),
                                        (e2e.pytest_collection_modifyitems, "e2e")])
def test_each_tier_marks_only_its_own_tests(hook, mark):
    items = {tier: _Item(TESTS / tier / "test_x.py") for tier in ("unit", "integration", "e2e")}
    hook(None, list(items.values()))
    assert {tier: item.marks for tier, item in items.items()} == {
        tier: [mark] if tier == mark else [] for tier in items}
