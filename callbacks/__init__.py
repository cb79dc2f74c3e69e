"""Callbacks per page; each module's register(app) attaches its callbacks to one Dash app."""
from dash import Dash

from callbacks import overview, shell


def register_all(app: Dash) -> None:
    for module in (shell, overview):
        module.register(app)
