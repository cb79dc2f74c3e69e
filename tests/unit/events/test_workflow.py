"""The workflow table: which handlers an event type reaches, in what order, and lazy resolution of other domains'
handlers."""
import pytest

from services.events import workflow


def test_every_event_goes_to_webhooks_after_its_own_chain():
    assert workflow.handlers_for("campaign.created") == [
        "matchmaking.recommend", "notify.recommendations_ready", "webhooks.fan_out"]
    assert workflow.handlers_for("placement.added") == ["webhooks.fan_out"]
    assert workflow.chains_for("alert.triggered") == [("notify.alert",), ("webhooks.fan_out",)]


def test_the_contracted_routes_are_in_the_table():
    routes = {event: workflow.WORKFLOW[event] for event in (
        "*", "campaign.created", "campaign.status_changed", "delivery.under_pacing", "alert.triggered",
        "webhook.disabled")}
    assert routes["*"] == ("webhooks.fan_out",)
    assert routes["campaign.created"] == ("matchmaking.recommend", "notify.recommendations_ready")
    assert routes["webhook.disabled"] == ("notify.webhook_disabled",)
    assert workflow.HANDLERS["webhooks.fan_out"] == "services.notify.webhooks:on_event"
    assert workflow.HANDLERS["matchmaking.recommend"] == "services.sponsorship.matchmaking:on_campaign_created"


def test_every_named_handler_exists_and_our_own_resolve():
    named = {name for chain in workflow.WORKFLOW.values() for name in chain}
    assert named <= set(workflow.HANDLERS)
    for name in named:  # every domain's handler is installed: none is skipped
        assert callable(workflow.resolve(name))


def test_a_handler_by_import_path_resolves_only_when_run():
    handlers = {"fake.fan_out": "tests.unit.events.fake_handlers:fan_out", "gone": "services.nowhere.here:on_event",
                "broken": "tests.unit.events.broken_handler:on_event"}
    from tests.unit.events import fake_handlers

    assert workflow.resolve("fake.fan_out", handlers) is fake_handlers.fan_out
    for missing in ("gone", "broken"):  # a handler module that is absent, or whose own import fails: a failure
        with pytest.raises(ModuleNotFoundError):
            workflow.resolve(missing, handlers)
    with pytest.raises(LookupError, match="no handler named 'nope'"):
        workflow.resolve("nope", handlers)
