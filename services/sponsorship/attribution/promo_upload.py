"""A promo-code CSV as the campaigns page uploads it: a browser data URL for one campaign, stored for that
campaign's sponsor by promo_csv (all or nothing, each bad row named by line and field)."""
from __future__ import annotations

import base64
import binascii

from services.sponsorship.campaigns import visible_campaign
from services.db import Database
from services.errors import ValidationError
from services.sponsorship.attribution.promo_csv import PromoImport, import_promo_csv
from services.tenancy import TenantContext, require_role


def decode_upload(contents: str) -> str:
    """The text of a `data:...;base64,...` upload (UTF-8); ValidationError naming the file otherwise."""
    header, _, payload = (contents or "").partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise ValidationError("the upload is not a base64 data URL", {"file": "unreadable upload"})
    try:
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ValidationError("the file is not UTF-8 text (save the CSV as UTF-8)",
                              {"file": "not UTF-8 text"}) from None


def import_campaign_promo_upload(db: Database, ctx: TenantContext, campaign_id: int, contents: str) -> PromoImport:
    """Store the uploaded orders for the campaign's sponsor (editors and above); the codes may be any of that
    sponsor's campaigns' codes. Another tenant's or sponsor's campaign is NotFound."""
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        sponsor_id = visible_campaign(s, ctx, campaign_id).sponsor_id
    return import_promo_csv(db, ctx, sponsor_id, decode_upload(contents))
