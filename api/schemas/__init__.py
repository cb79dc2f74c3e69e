"""Request and response bodies of the REST API as pydantic models."""
