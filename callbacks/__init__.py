"""Callbacks per page; each module's register(app) attaches its callbacks to one Dash app."""
from dash import Dash

from callbacks import (
    api_keys, audience, campaign, campaigns, episode, episodes, insights, logs, methodology, overview, podcasts, settings,
    shell, sponsors,
)


def register_all(app: Dash) -> None:
    for module in (shell, overview, podcasts, episodes, episode, audience, logs, settings, methodology, api_keys,
                   sponsors, campaigns, campaign, insights):
        module.register(app)
