"""Insights: forecasts, anomalies and written summaries with an optional language-model writer."""
