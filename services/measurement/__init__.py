"""Measurement: from raw requests for audio to counted downloads, per IAB Podcast Measurement v2.3."""
