"""Fixtures for the notification tests: the demo network's people and fake handlers for other domains' steps."""
from tests.unit.notify.people import fakes, people  # noqa: F401 (fixtures)
