"""Fixtures for the events tests: the demo network's people and fake handlers for other domains' steps."""
from tests.unit.notify.people import fakes_fixture, people_fixture  # noqa: F401 (fixtures)
