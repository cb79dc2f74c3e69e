"""Insights: forecasts, anomalies, written summaries, and the language-model provider interface."""
