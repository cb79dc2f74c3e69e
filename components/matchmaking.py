"""Builders for matchmaking: the campaign page's Recommendations panel (ranked shows with factor bars and the
sentence, excluded shows with why, one-click add, the network's weights) and the podcast page's sponsors section."""
from __future__ import annotations

from dash import html

from components.forms import field, text_input
from components.ids import CampaignMatch as M, PodcastMatch as P
from components.tables import simple_table

FACTOR_LABELS = {"category_fit": "Category fit", "geo_fit": "Target countries", "inventory_fit": "Inventory",
                 "cpm_fit": "CPM fit", "new_reach": "New reach", "past_performance": "Past performance"}


def recommendations_panel() -> html.Div:
    """The panel's layout; callbacks fill it and hide it from sponsor users."""
    weights = [field(label, text_input(M.WEIGHT + name, "0 to 10"), M.WEIGHT_ERROR + name)
               for name, label in FACTOR_LABELS.items()]
    return html.Div([
        html.H2("Recommended shows", id="recommendations"),
        html.P("Every show of the network, ranked for this campaign: brand-safety exclusions and shows where a "
               "competing sponsor of the same industry runs in overlapping days are left out; the rest are scored "
               "on the factors below (each 0 to 1), weighted by the network's weights.", className="muted"),
        html.Div(html.Button("Recompute", id=M.RECOMPUTE, className="link-button", style={"display": "none"}),
                 className="button-row"),
        html.Div(id=M.MESSAGE),
        html.P(id=M.COMPUTED, className="muted"),
        html.Div(id=M.LIST),
        html.H3("Excluded"),
        html.Div(id=M.EXCLUDED),
        html.Details([html.Summary("Weights (owners and admins)"),
                      html.Div(weights, className="weights-grid"),
                      html.Div(id=M.WEIGHT_ERROR + "weights", className="field-error", role="alert"),
                      html.Button("Save weights", id=M.SAVE_WEIGHTS, className="primary-button")],
                     id=M.WEIGHTS_BOX, style={"display": "none"}),
    ], id=M.BOX, className="panel", style={"display": "none"})


def factor_bars(factors: dict[str, float]) -> html.Div:
    cells = []
    for name, label in FACTOR_LABELS.items():
        value = float(factors.get(name, 0.0))
        cells += [html.Span(label, className="factor-name"),
                  html.Div(html.Div(className="factor-fill", style={"width": f"{value:.0%}"}), className="factor-track",
                           role="meter", **{"aria-valuenow": value, "aria-valuemin": 0, "aria-valuemax": 1,
                                            "aria-label": label}),
                  html.Span(f"{value:.2f}")]
    return html.Div(cells, className="factor-bars")


def recommendation_table(rows, add_type: str | None = None, campaign_column: bool = False) -> html.Table | html.P:
    """Ranked rows (match_scoring.Ranked): rank, name, score, factor bars and the sentence; `add_type` (the
    pattern-matching type) adds an "Add placement" button to each."""
    body = []
    for r in rows:
        line = [f"#{r.rank}", r.label]
        if campaign_column:
            line.append(r.extra.get("campaign", ""))
        line += [f"{r.score:.2f}", factor_bars(r.factors), html.Span(r.explanation, className="match-sentence")]
        if add_type:
            line.append(html.Button("Add to campaign", id={"type": add_type, "index": r.key}, className="link-button"))
        body.append(line)
    headers = ["Rank", "Sponsor" if campaign_column else "Show", *(["Campaign"] if campaign_column else []),
               "Score", "Factors", "Why"]
    return simple_table(headers + ([""] if add_type else []), body, "No show passes this campaign's filters.")


def excluded_table(rows, campaign_column: bool = False) -> html.Table | html.P:
    body = [[r.label, *([r.extra.get("campaign", "")] if campaign_column else []), r.excluded_because] for r in rows]
    headers = ["Sponsor" if campaign_column else "Show", *(["Campaign"] if campaign_column else []),
               "Excluded because"]
    return simple_table(headers, body, "Nothing excluded.")


def computed_line(computed_at, weights: dict[str, float]) -> str:
    """When the factors were computed, and the weights the scores use (every staff member sees them)."""
    when = ("Not stored yet: computed now from the latest rollups." if computed_at is None
            else f"Computed {computed_at:%Y-%m-%d %H:%M} UTC.")
    shown = ", ".join(f"{label.lower()} {weights.get(name, 0):g}" for name, label in FACTOR_LABELS.items())
    return f"{when} Weights: {shown}."


def sponsors_section() -> html.Div:
    """The podcast page's section; a callback fills it (staff only)."""
    return html.Div([
        html.H2("Sponsors for this show"),
        html.P("Each sponsor's best open campaign for this show, scored as the campaign's own recommendations are.",
               className="muted"),
        html.Div(id=P.LIST),
        html.H3("Excluded"),
        html.Div(id=P.EXCLUDED),
    ], id=P.BOX, className="panel", style={"display": "none"})
