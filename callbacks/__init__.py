"""Callbacks per page; each module's register(app) attaches its callbacks to one Dash app."""
from dash import Dash

from callbacks import api_keys, logs, methodology, overview, podcasts, settings, shell


def register_all(app: Dash) -> None:
    for module in (shell, overview, podcasts, logs, settings, methodology, api_keys):
        module.register(app)
