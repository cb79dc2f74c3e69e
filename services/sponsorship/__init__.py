"""Sponsorship: sponsors, campaigns, placements, delivery, pacing and attribution."""
