"""The per-app objects every entrypoint needs (settings, database), kept on the Flask app's extensions."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context

from services.db import Database
from services.settings import Settings

EXTENSION = "podcast_platform"


@dataclass
class AppState:
    settings: Settings
    db: Database


def init_state(server: Flask, settings: Settings, db: Database) -> AppState:
    state = AppState(settings=settings, db=db)
    server.extensions[EXTENSION] = state
    return state


def app_state() -> AppState:
    return current_app.extensions[EXTENSION]


def current_db() -> Database:
    return app_state().db


def request_store():
    """The current request's store (flask.g) for Database's read-your-writes pin; None outside a request."""
    return g if has_request_context() else None
