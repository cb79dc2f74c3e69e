"""Operator commands: each works, and bad input prints a clear error and exits non-zero."""
import pytest

from app import create_app
from services import api_keys, migrate


@pytest.fixture
def runner(demo_settings):
    server = create_app(demo_settings)
    yield server.test_cli_runner()
    server.extensions["podcast_platform"].db.dispose()


def test_tenant_user_and_key_commands(runner):
    result = runner.invoke(args=["create-tenant", "acme", "Acme Audio"])
    assert result.exit_code == 0 and "created tenant acme" in result.output
    result = runner.invoke(args=["create-user", "o@acme.test", "--tenant", "acme", "--role", "owner"])
    assert result.exit_code == 0 and "password: " in result.output
    result = runner.invoke(args=["create-api-key", "--tenant", "acme", "--name", "ci"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    db = runner.app.extensions["podcast_platform"].db
    ctx, _ = api_keys.authenticate_api_key(db, key)
    assert ctx.tenant_slug == "acme"
    result = runner.invoke(args=["revoke-api-key", "--tenant", "acme", "1"])
    assert result.exit_code == 0


@pytest.mark.parametrize("args,message", [
    (["create-tenant", "Bad Slug", "x"], "slug"),
    (["create-tenant", "demo", "Again"], "already exists"),
    (["create-user", "x@y.test", "--tenant", "nope", "--role", "owner"], "no tenant"),
    (["create-user", "not-an-email", "--tenant", "demo", "--role", "owner"], "not an email"),
    (["create-user", "x@y.test", "--tenant", "demo", "--role", "king"], "Invalid value"),
    (["create-api-key", "--tenant", "nope"], "no tenant"),
    (["revoke-api-key", "--tenant", "demo", "999"], "no API key"),
])
def test_bad_input_fails_clearly(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


def test_db_commands_and_seed_demo(runner):
    head = migrate.head_revision()
    assert runner.invoke(args=["db", "current"]).output.strip() == head
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and f"revision {head}" in result.output
    assert "already exists" in runner.invoke(args=["seed-demo"]).output
