"""Flask entrypoints that are not Dash pages: REST API, tracking, embeds, health and metrics."""
