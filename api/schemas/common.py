"""Shapes every area of the API shares: the problem document, ids, formats, and cursor pagination."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

Id = Annotated[int, Field(ge=1, le=2**63 - 1, description="a row id")]
Day = Annotated[str, Field(pattern=r"^(19|20|21)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
                           description="a date as YYYY-MM-DD",
                           examples=["2026-01-31"])]


class Problem(BaseModel):
    """An RFC 9457 problem document; `errors` names each bad field (query parameter or body field)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"type": "about:blank", "title": "ValidationError", "status": 422, "detail": "limit: must be at most 500",
         "errors": {"limit": "Input should be less than or equal to 500"}}]})

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, Any] | list[Any] | None = None


class Query(BaseModel):
    """Base of every query model: unknown parameters are ignored, as browsers and proxies add their own."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class FormatQuery(Query):
    format: Literal["json", "csv"] = Field("json", description="json, or csv for a spreadsheet")


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor this API gave out") from None


class PageQuery(Query):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                       description=f"rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")
    cursor: str | None = Field(None, max_length=200,
                               description="opaque: the `next` of the previous page; omit for the first page")

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value:
            decode_cursor(value)
        return value or None


class Page(BaseModel):
    next: str | None = Field(None, description="the cursor of the next page; null on the last page")


def paginate(rows: list[dict], page: PageQuery) -> dict:
    """One page of `rows` ordered by id: {"data": [...], "next": cursor or None}."""
    after = decode_cursor(page.cursor) if page.cursor else 0
    ordered = sorted((r for r in rows if r["id"] > after), key=lambda r: r["id"])
    chunk = ordered[:page.limit]
    more = len(ordered) > page.limit
    return {"data": chunk, "next": encode_cursor(chunk[-1]["id"]) if more else None}
