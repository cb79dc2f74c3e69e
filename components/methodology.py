"""The methodology statement as components."""
from __future__ import annotations

from dash import html


def methodology_statement(m: dict) -> list:
    ua = m["user_agents"]
    return [
        html.P(f"{m['tenant']} counts downloads per the {m['guidelines']}. These are the rules as applied now."),
        html.H2("Deduplication"),
        html.P([html.Strong(m["dedupe_window"]), f": {m['dedupe_rule']}. Dashboards use the time zone {m['timezone']}."]),
        html.H2("One-minute threshold"), html.P(m["threshold"]),
        html.H2("Not counted"), html.Ul([html.Li(item) for item in m["excluded"]]),
        html.H2("Bots and automated agents"),
        html.Ul([html.Li([html.Code(rule["reason"]), f": {rule['description']}"]) for rule in m["bot_rules"]]),
        html.H2("Apps, devices and referrers"),
        html.P([f"Classified with the OPAWG user-agents-v2 database (commit {ua['commit']}, {ua['commit_date']}), "
                f"first match in the order {', '.join(ua['order'])}; ",
                ", ".join(f"{n} {k}" for k, n in ua["entries"].items()), "."]),
        *additions_statement(ua),
        html.H2("Listeners"), html.P(m["listener"]),
        html.H2("Geography"), html.P(m["geography"]),
        html.H2("Retention"), html.P(m["retention"]),
        *delivery_statement(m.get("delivery", [])),
        *attribution_statement(m["attribution"]),
    ]


def delivery_statement(rules: list) -> list:
    """How a campaign's impressions are counted: the targeting rule of dynamic and baked-in ads."""
    return [html.H2("Sponsorship delivery", id="delivery"),
            html.Ul([html.Li([html.Strong(name), f": {text}"]) for name, text in rules])]


def attribution_statement(a: dict) -> list:
    """How sponsors' conversions are credited to the network's episodes, rule by rule."""
    return [
        html.H2("Attribution", id="attribution"),
        html.H3("Inputs"), html.Ul([html.Li([html.Strong(name), f": {text}"]) for name, text in a["inputs"]]),
        html.P(a["idempotency"]),
        html.H3("Households"), html.P(a["household"]),
        html.H3("Exposures"), html.P(a["exposures"]),
        html.H3("Lookback window"), html.P(a["lookback"]),
        html.H3("Prior customers"), html.P(a["prior_customers"]),
        html.H3("Shared addresses"), html.P(a["shared_ips"]),
        html.H3("Promo codes"), html.P(a["promo_codes"]),
        html.H3("Credit models"), html.Ul([html.Li([html.Strong(name), f": {text}"]) for name, text in a["models"]]),
        html.H3("Lift"), html.P(a["lift"]),
    ]


def additions_statement(ua: dict) -> list:
    """The product's own entries on top of the OPAWG copy, with their count and why each exists."""
    if not ua["additions"]:
        return []
    counts = ", ".join(f"{n} in {kind}" for kind, n in ua["addition_counts"].items())
    return [
        html.P(f"Plus {len(ua['additions'])} entries of our own ({counts}), each checked after OPAWG's entries of the "
               f"same list, for changes OPAWG made after commit {ua['commit']}:"),
        html.Ul([html.Li([html.Code(a["name"]), f" ({a['kind']}): {a['reason']}"]) for a in ua["additions"]]),
    ]
