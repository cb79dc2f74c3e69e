"""Notifications: in-app, email, webhooks (Standard Webhooks), alert rules and scheduled email reports (`reports`)."""
