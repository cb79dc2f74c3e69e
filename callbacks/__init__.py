"""Callbacks per page; each module's register(app) attaches its callbacks to one Dash app."""
from dash import Dash

from callbacks import (
    alerts, api_keys, audience, audit, campaign, campaigns, embeds, episode, episodes, events, insights, live, logs,
    matchmaking, methodology, notifications, onboarding, overview, podcasts, privacy, reports, settings, shell,
    sponsors, team, view_links, webhooks,
)


def register_all(app: Dash) -> None:
    for module in (shell, overview, podcasts, episodes, episode, audience, logs, live, settings, methodology, api_keys,
                   sponsors, campaigns, campaign, alerts, matchmaking, webhooks, notifications, events, insights,
                   reports, onboarding, view_links, embeds, audit, privacy, team):
        module.register(app)
