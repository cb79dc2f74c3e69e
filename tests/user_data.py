"""A user's personal data in every table that can hold it, for the user deletion tests, and a scan of the whole
database for what is left of a user (their id in any column referencing users, their email in any column)."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import inspect, select, text

from services.models import (AccountToken, AlertRule, ApiKey, AuditLog, Base, EmailMessage, Embed,
                             MfaRecoveryCode, Notification, NotificationPreference, ReportRun, ReportSubscription,
                             Sponsor, WebhookEndpoint)


def _hash(kind: str, tenant_id: int, user_id: int) -> str:
    return hashlib.sha256(f"{kind}:{tenant_id}:{user_id}".encode()).hexdigest()


def plant_personal_data(db, tenant_id: int, user_id: int, email: str, colleague_id: int | None = None) -> None:
    """Rows of every kind that name this user in this tenant (and, given a colleague, mentions of their address
    in the colleague's notification and email)."""
    now = datetime.now(timezone.utc)
    with db.session(tenant_id) as s:
        s.add_all([
            Notification(tenant_id=tenant_id, user_id=user_id, kind="pacing.behind", title="Behind", body="..."),
            NotificationPreference(tenant_id=tenant_id, user_id=user_id, kind="pacing.behind", channel="email",
                                   enabled=False),
            MfaRecoveryCode(user_id=user_id, code_hash=_hash("code", tenant_id, user_id)),
            AccountToken(tenant_id=tenant_id, purpose="reset", token_hash=_hash("token", tenant_id, user_id), email=email,
                         user_id=user_id, expires_at=now + timedelta(days=1)),
            ApiKey(tenant_id=tenant_id, name="ci", prefix="pk_x", key_hash=_hash("key", tenant_id, user_id), scopes=["read"],
                   created_by_user_id=user_id),
            AlertRule(tenant_id=tenant_id, name="drop", metric="downloads", condition="below", threshold=1.0,
                      channels=["in_app"], recipients=[user_id], created_by_user_id=user_id),
            Embed(tenant_id=tenant_id, chart="downloads", created_by_user_id=user_id),
            WebhookEndpoint(tenant_id=tenant_id, url="https://hooks.example.com/x", secret="whsec_" + "a" * 32,
                            event_types=["campaign.created"], created_by_user_id=user_id),
            EmailMessage(tenant_id=tenant_id, to_address=email, subject="Your weekly report", text_body="Hello",
                         html_body="<p>Hello</p>"),
            AuditLog(tenant_id=tenant_id, user_id=user_id, action="campaign.updated", entity_type="campaign",
                     entity_id=1, detail={"name": ["a", "b"]}),
            AuditLog(tenant_id=tenant_id, user_id=None, action="member.invited", entity_type="account_token",
                     entity_id=1, detail={"email": email, "role": "viewer"}),
            AuditLog(tenant_id=tenant_id, user_id=None, action="sponsor.note", entity_type="sponsor", entity_id=1,
                     detail={"note": f"asked by {email.upper()} on the phone"}),
        ])
        if colleague_id is not None:
            s.add_all([
                Notification(tenant_id=tenant_id, user_id=colleague_id, kind="security.login_locked",
                             title=f"{email} paused", body=f"Sign-in to {email} is paused."),
                EmailMessage(tenant_id=tenant_id, to_address="colleague@elsewhere.test", subject=f"{email} joined",
                             text_body=f"{email} joined the network", html_body=f"<p>{email} joined</p>"),
            ])
        s.flush()
        subscription = ReportSubscription(tenant_id=tenant_id, user_id=user_id, kind="network", frequency="weekly",
                                          day=1, hour=8)
        s.add(subscription)
        s.flush()
        s.add(ReportRun(tenant_id=tenant_id, subscription_id=subscription.id, user_id=user_id, period_key="2026-W01",
                        period_start=date(2026, 1, 1), period_end=date(2026, 1, 7), due_at=now, to_address=email))
        sponsor = s.scalar(select(Sponsor).where(Sponsor.tenant_id == tenant_id).order_by(Sponsor.id))
        if sponsor is not None:
            sponsor.contact_email = email
        s.commit()


def user_columns() -> list[tuple[str, str]]:
    """(table, column) of every column referencing users.id."""
    return [(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.c
            if any(fk.column.table.name == "users" for fk in c.foreign_keys)]


def traces_of(db, user_id: int, email: str) -> list[str]:
    """Where the user is still named: their id in a column referencing users (or as the subject of an audit entry,
    or an alert's recipient), their email in any column of any table."""
    found = []
    with db.session(system=True) as s:
        for table, column in user_columns() + [("users", "id")]:
            if s.execute(text(f'SELECT count(*) FROM {table} WHERE "{column}" = :u'), {"u": user_id}).scalar():
                found.append(f"{table}.{column}")
        if s.execute(text("SELECT count(*) FROM audit_log WHERE entity_type = 'user' AND entity_id = :u"),
                     {"u": user_id}).scalar():
            found.append("audit_log.entity_id")
        if any(user_id in (r or []) for r in s.scalars(select(AlertRule.recipients))):
            found.append("alert_rules.recipients")
        for table in inspect(db.engine).get_table_names():
            for column in inspect(db.engine).get_columns(table):
                hits = s.execute(text(f'SELECT count(*) FROM {table} WHERE lower(CAST("{column["name"]}" AS TEXT)) '
                                      "LIKE :e"), {"e": f"%{email.lower()}%"}).scalar()
                if hits:
                    found.append(f"{table}.{column['name']} (email)")
    return found


def remove_member(client, user_id: int, typed: str | None) -> str:
    """Press Remove on the Team page's row of `user_id` with `typed` in the confirmation box; the status text."""
    body = {"output": "..team-remove-status.children...team-table.children@" + duplicate_hash(client) + "..",
            "outputs": [{"id": "team-remove-status", "property": "children"},
                        {"id": "team-table", "property": "children"}],
            "inputs": [[{"id": {"index": user_id, "type": "team-remove"}, "property": "n_clicks", "value": 1}]],
            "state": [{"id": "team-remove-confirm", "property": "value", "value": typed}],
            "changedPropIds": [json.dumps({"index": user_id, "type": "team-remove"}, separators=(",", ":"))
                               + ".n_clicks"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code in (200, 204), response.status_code
    if response.status_code == 204:
        return ""
    return json.dumps(response.get_json()["response"]["team-remove-status"]["children"])


def duplicate_hash(client) -> str:
    deps = client.get("/_dash-dependencies").get_json()
    key = next(d["output"] for d in deps if "team-remove-status" in d["output"])
    return key.split("team-table.children@", 1)[1].rstrip(".")
