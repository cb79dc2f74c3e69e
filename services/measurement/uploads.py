"""Uploaded files (from the browser's data URL) kept under the instance folder until a job has read them."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from pathlib import Path

from services.errors import ValidationError

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def store_upload(directory: Path, filename: str | None, data_url: str | None) -> Path:
    """Decode a `data:...;base64,...` upload into a new file; returns its path. Bad input names the field."""
    if not data_url or "," not in data_url:
        raise ValidationError("choose a log file to upload", {"file": "missing"})
    header, _, payload = data_url.partition(",")
    if ";base64" not in header:
        raise ValidationError("the upload is not base64-encoded", {"file": "unreadable upload"})
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("the upload is corrupt", {"file": "unreadable upload"}) from None
    if not content:
        raise ValidationError("the file is empty", {"file": "empty"})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}_{SAFE_NAME.sub('_', filename or 'upload.log')[:100]}"
    path.write_bytes(content)
    return path
