"""Settings come from the environment with safe defaults; bad values name their variable."""
import pytest

from services.errors import ConfigError
from services.settings import load_settings


def test_defaults_are_embedded(tmp_path):
    s = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'podcast.db'}"
    assert s.is_embedded and s.redis_url is None
    assert (s.host, s.port, s.log_level) == ("127.0.0.1", 8050, "INFO")
    assert s.public_base_url == "http://127.0.0.1:8050"


def test_generated_secret_key_is_kept(tmp_path):
    first = load_settings({"INSTANCE_PATH": str(tmp_path)})
    second = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert first.secret_key_generated and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_values(tmp_path):
    s = load_settings({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u@db/x",
                       "REDIS_URL": "redis://cache:6379/0", "SECRET_KEY": "x" * 32, "PORT": "9000",
                       "PUBLIC_BASE_URL": "https://stats.example.com/", "TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert s.database_url == "postgresql+psycopg://u@db/x"
    assert not s.is_embedded and s.port == 9000 and s.session_cookie_secure
    assert s.public_base_url == "https://stats.example.com"
    assert [str(n) for n in s.trusted_proxies] == ["10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize("variable,value", [
    ("DATABASE_URL", "mysql://x"), ("REDIS_URL", "http://x"), ("LOG_LEVEL", "LOUD"), ("PORT", "eighty"),
    ("PORT", "70000"), ("PUBLIC_BASE_URL", "example.com"), ("TRUSTED_PROXIES", "10.0.0.300"),
    ("SECRET_KEY", "short"), ("METRICS_TOKEN", "short"), ("METRICS_TOKEN", "has a space in it, so no"),
])
def test_bad_values_name_the_variable(tmp_path, variable, value):
    with pytest.raises(ConfigError) as err:
        load_settings({"INSTANCE_PATH": str(tmp_path), variable: value})
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_counting_engine_is_local_or_a_dask_scheduler_address(tmp_path):
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).counting_engine == "local"
    for value, expected in (("LOCAL", "local"), ("tcp://scheduler:8786", "tcp://scheduler:8786"),
                            ("tcp://10.0.0.5:8786/", "tcp://10.0.0.5:8786"), ("tcp://[::1]:8786", "tcp://[::1]:8786")):
        assert load_settings({"INSTANCE_PATH": str(tmp_path), "COUNTING_ENGINE": value}).counting_engine == expected
    for value in ("dask", "tcp://scheduler", "http://scheduler:8786", "tcp://:8786", "tcp://scheduler:0",
                  "tcp://scheduler:99999", "tcp://scheduler:port", "tcp://user:pw@scheduler:8786",
                  "tcp://scheduler:8786/path", "tcp://scheduler:8786?x=1"):
        with pytest.raises(ConfigError) as err:
            load_settings({"INSTANCE_PATH": str(tmp_path), "COUNTING_ENGINE": value})
        assert err.value.variable == "COUNTING_ENGINE" and "COUNTING_ENGINE" in str(err.value)


def test_api_rate_limits_are_read_and_checked(tmp_path):
    s = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert (s.api_rate_limit, s.api_anon_rate_limit) == ("600/minute", "60/minute")
    s = load_settings({"INSTANCE_PATH": str(tmp_path), "API_RATE_LIMIT": "10/second;600/minute"})
    assert s.api_rate_limit == "10/second;600/minute"
    for name in ("API_RATE_LIMIT", "API_ANON_RATE_LIMIT"):
        with pytest.raises(ConfigError) as err:
            load_settings({"INSTANCE_PATH": str(tmp_path), name: "lots"})
        assert err.value.variable == name


def test_metrics_token_is_optional_and_kept_out_of_reprs(tmp_path):
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).metrics_token is None
    s = load_settings({"INSTANCE_PATH": str(tmp_path), "METRICS_TOKEN": "scrape-token-0123456789"})
    assert s.metrics_token == "scrape-token-0123456789" and "scrape-token" not in repr(s)


def test_login_limit_and_idle_timeout_are_read_and_checked(tmp_path):
    s = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert (s.login_rate_limit_ip, s.session_idle_minutes) == ("30/minute", 120)
    s = load_settings({"INSTANCE_PATH": str(tmp_path), "LOGIN_RATE_LIMIT_IP": "5/minute;100/hour",
                       "SESSION_IDLE_MINUTES": "0"})
    assert (s.login_rate_limit_ip, s.session_idle_minutes) == ("5/minute;100/hour", 0)
    for name, value in (("LOGIN_RATE_LIMIT_IP", "many"), ("SESSION_IDLE_MINUTES", "an hour"),
                        ("SESSION_IDLE_MINUTES", "-5")):
        with pytest.raises(ConfigError) as err:
            load_settings({"INSTANCE_PATH": str(tmp_path), name: value})
        assert err.value.variable == name


def test_conversion_retention_is_optional_and_checked(tmp_path):
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).conversion_retention_days is None
    assert load_settings({"INSTANCE_PATH": str(tmp_path),
                          "CONVERSION_RETENTION_DAYS": "365"}).conversion_retention_days == 365
    for value in ("a year", "29", "3651", "12.5"):
        with pytest.raises(ConfigError) as err:
            load_settings({"INSTANCE_PATH": str(tmp_path), "CONVERSION_RETENTION_DAYS": value})
        assert err.value.variable == "CONVERSION_RETENTION_DAYS"


def test_dashboard_cache_and_read_replica_settings(tmp_path):
    s = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert (s.dashboard_cache, s.database_read_url) == ("auto", None)
    s = load_settings({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u@db/x",
                       "DATABASE_READ_URL": "postgresql://u@replica/x", "DASHBOARD_CACHE": "OFF"})
    assert (s.dashboard_cache, s.database_read_url) == ("off", "postgresql+psycopg://u@replica/x")
    for env in ({"DASHBOARD_CACHE": "sometimes"}, {"DASHBOARD_CACHE": "redis"},
                {"DASHBOARD_CACHE": "memory", "REDIS_URL": "redis://r:6379/0"},
                {"DATABASE_READ_URL": "postgresql://u@replica/x"}):  # a PostgreSQL replica of a SQLite primary
        with pytest.raises(ConfigError) as raised:
            load_settings({"INSTANCE_PATH": str(tmp_path), **env})
        assert raised.value.variable == next(iter(env))


SSO = {"OIDC_ISSUER": "https://login.example.com/tenant", "OIDC_CLIENT_ID": "podcast-analytics",
       "OIDC_CLIENT_SECRET": "s3cret"}


def test_single_sign_on_is_off_by_default_and_on_with_issuer_client_and_secret(tmp_path):
    off = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert not off.sso_enabled and off.oidc_issuer is None
    on = load_settings({"INSTANCE_PATH": str(tmp_path), **SSO})
    assert on.sso_enabled and (on.oidc_issuer, on.oidc_client_id, on.oidc_name, on.oidc_timeout_seconds) == (
        "https://login.example.com/tenant", "podcast-analytics", "SSO", 10.0)
    assert "s3cret" not in repr(on)
    local = load_settings({"INSTANCE_PATH": str(tmp_path), **SSO, "OIDC_ISSUER": "http://127.0.0.1:9000",
                           "OIDC_NAME": "Okta"})
    assert local.oidc_name == "Okta"


@pytest.mark.parametrize("changes,variable", [
    ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"),
    ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET"),
    ({"OIDC_ISSUER": ""}, "OIDC_ISSUER"),  # a client id alone: SSO would silently be off
    ({"OIDC_ISSUER": "http://login.example.com"}, "OIDC_ISSUER"),  # plain http only on this machine
    ({"OIDC_ISSUER": "login.example.com"}, "OIDC_ISSUER"),
    ({"OIDC_NAME": "x" * 41}, "OIDC_NAME"),
    ({"OIDC_TIMEOUT_SECONDS": "0"}, "OIDC_TIMEOUT_SECONDS"),
])
def test_bad_single_sign_on_settings_name_the_variable(tmp_path, changes, variable):
    with pytest.raises(ConfigError) as err:
        load_settings({"INSTANCE_PATH": str(tmp_path), **SSO, **changes})
    assert err.value.variable == variable
