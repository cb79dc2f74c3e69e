"""Scheduled email reports: subscriptions, when each is due, the report's figures, charts, email and its sending."""
