"""Notifications: in-app, email, webhooks (Standard Webhooks) and alert rules."""
