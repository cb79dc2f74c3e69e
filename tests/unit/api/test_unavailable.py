"""Which database errors mean "the database is away" (503, retry) and which are a statement's own failure (500), and
the form of the 503 for a page, a dashboard callback and the REST API. The app itself, on PostgreSQL taken away and
brought back, is tests/integration/test_database_unavailable_postgres.py."""
from __future__ import annotations

import sqlite3

import psycopg
import pytest
from flask import Flask
from sqlalchemy import exc as sa_exc

from api.problems import init_problems
from api.unavailable import database_away, init_unavailable


def _wrapped(orig: Exception, kind=sa_exc.OperationalError, invalidated: bool = False) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize("error, away", [
    (_wrapped(psycopg.OperationalError("connection failed: Connection refused")), True),  # no SQLSTATE
    (_wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")), True),
    (_wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")), True),
    (_wrapped(psycopg.errors.TooManyConnections("too many clients already")), True),
    (_wrapped(psycopg.errors.UndefinedTable("relation x does not exist"), sa_exc.ProgrammingError), False),
    (_wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")), False),
    (_wrapped(psycopg.errors.UniqueViolation("duplicate key"), sa_exc.IntegrityError), False),
    (_wrapped(psycopg.errors.UndefinedTable("x"), sa_exc.ProgrammingError, invalidated=True), True),
    (_wrapped(sqlite3.OperationalError("database is locked")), True),
    (_wrapped(sqlite3.OperationalError("no such table: podcasts")), False),
    (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"), True),
    (ValueError("not a database error"), False),
])
def test_database_away(error, away):
    assert database_away(error) is away


@pytest.fixture
def server():
    server = Flask(__name__)
    init_problems(server)
    init_unavailable(server)
    refused = _wrapped(psycopg.OperationalError("connection refused"))
    bad = _wrapped(sqlite3.OperationalError("no such table: podcasts"))

    for path, error in (("/overview", refused), ("/_dash-update-component", refused), ("/api/v1/podcasts", refused),
                        ("/bad", bad), ("/api/v1/bad", bad)):
        server.add_url_rule(path, path, lambda error=error: (_ for _ in ()).throw(error), methods=["GET", "POST"])
    return server


def test_a_page_gets_a_self_reloading_page(server):
    response = server.test_client().get("/overview?range=30d")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5" and response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="5">' in body and "Data temporarily unavailable" in body
    assert 'href="/overview?range=30d"' in body


def test_a_callback_gets_json_and_the_header_the_banner_script_reads(server):
    response = server.test_client().post("/_dash-update-component", json={})
    assert response.status_code == 503 and response.headers["X-Data-Unavailable"] == "1"
    assert response.get_json() == {"error": "data temporarily unavailable", "retry_after": 5}


def test_the_api_gets_a_problem(server):
    response = server.test_client().get("/api/v1/podcasts")
    assert response.status_code == 503 and response.content_type == "application/problem+json"
    assert response.get_json()["title"] == "ServiceUnavailable"


def test_a_statements_own_error_stays_a_500(server):
    client = server.test_client()
    page = client.get("/bad")
    assert page.status_code == 500 and "X-Data-Unavailable" not in page.headers
    api = client.get("/api/v1/bad")
    assert api.status_code == 500 and api.get_json()["title"] == "InternalServerError"
