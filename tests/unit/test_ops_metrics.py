"""The operations gauges' readings on SQLite (the embedded default): counting lag in seconds, within the day."""
from tests.ops_lag_checks import check_counting_lag


def test_counting_lag_is_how_long_the_oldest_uncounted_request_has_waited(db):
    check_counting_lag(db)
