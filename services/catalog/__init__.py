"""Catalog: podcasts and episodes from RSS feeds."""
