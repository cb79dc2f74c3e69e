"""Sponsorship: sponsors, campaigns, placements, delivery, pacing, attribution."""
