"""Errors the services raise; entrypoints (pages, callbacks, API, CLI) translate them for users."""
from __future__ import annotations


class ServiceError(Exception):
    """Base class: a problem a user can be told about."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(ServiceError):
    """A bad environment variable; names the variable."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class ValidationError(ServiceError):
    """Bad input; `fields` maps each bad field to what is wrong with it."""

    status = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


class NotFound(ServiceError):
    status = 404


class PermissionDenied(ServiceError):
    status = 403


class AuthenticationFailed(ServiceError):
    status = 401


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    """Existed, but no longer answers (an expired or revoked link)."""

    status = 410
