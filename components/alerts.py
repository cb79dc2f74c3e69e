"""Builders for the alerts page: its ids, the rule form, the rules table with each rule's state, a rule's history."""
from __future__ import annotations

from dash import dcc, html

from components.forms import field, form_grid, text_input
from components.tables import simple_table
from services.notify.alert_rules import CONDITION_LABELS, METRIC_LABELS, format_number, threshold_text

RULE_FIELDS = ("name", "metric", "target_id", "condition", "threshold", "window_days", "rearm_hours", "channels",
               "recipients")
STATE_LABELS = {"ok": "OK", "triggered": "Triggered", "muted": "Muted"}
MUTE_HOURS = 24
NEW_RULE_VALUES = [None, None, None, None, None, None, None, ["in_app", "email"], []]  # in RULE_FIELDS order
CHANNEL_OPTIONS = [{"label": " in-app", "value": "in_app"}, {"label": " email", "value": "email"}]


class Alerts:
    URL = "alerts-url"
    FIELD = "alerts-field-"  # + field name
    ERROR = "alerts-error-"  # + field name
    SAVE = "alerts-save"
    CANCEL = "alerts-cancel"
    EDITING = "alerts-editing"  # store: the rule id being edited, or None for a new rule
    FORM_TITLE = "alerts-form-title"
    MESSAGE = "alerts-message"
    FORM_BOX = "alerts-form-box"
    TABLE = "alerts-table"
    HISTORY = "alerts-history"
    # pattern-matching buttons: {"type": ..., "index": rule id}
    SHOW_HISTORY = "alerts-show-history"
    EDIT = "alerts-edit"
    MUTE = "alerts-mute"
    UNMUTE = "alerts-unmute"
    DELETE = "alerts-delete"


def metric_options() -> list[dict]:
    return [{"label": label, "value": value} for value, label in METRIC_LABELS.items()]


def condition_options(conditions: tuple[str, ...]) -> list[dict]:
    return [{"label": CONDITION_LABELS[c], "value": c} for c in conditions]


def choice_options(choices: list[tuple[int, str]]) -> list[dict]:
    return [{"label": label, "value": value} for value, label in choices]


def rule_form() -> html.Div:
    """Every rule field with its message slot; choices are filled by callbacks."""
    f, e = Alerts.FIELD, Alerts.ERROR
    return form_grid([
        field("Name", text_input(f + "name", "Tech Talk below 500 a day"), e + "name"),
        field("Metric", dcc.Dropdown(id=f + "metric", options=metric_options(), placeholder="What to watch"),
              e + "metric"),
        field("Of", dcc.Dropdown(id=f + "target_id", options=[], placeholder="Show, episode or campaign"),
              e + "target_id", "empty: every show (show downloads, feed errors)"),
        field("Condition", dcc.Dropdown(id=f + "condition", options=[], placeholder="When"), e + "condition"),
        field("Threshold", text_input(f + "threshold", "500"), e + "threshold",
              "a change is in percent: -30 is a drop of 30% or more, 30 a rise; none for an anomaly"),
        field("Window (days)", text_input(f + "window_days", "7"), e + "window_days",
              "the period measured; for an episode, its first N days"),
        field("Re-arm (hours)", text_input(f + "rearm_hours", "24"), e + "rearm_hours",
              "a rule that stays triggered notifies again after this long"),
        field("Channels", dcc.Checklist(CHANNEL_OPTIONS, ["in_app", "email"], id=f + "channels", inline=True),
              e + "channels",
              "webhooks receive every alert"),
        field("Recipients", dcc.Dropdown(id=f + "recipients", options=[], multi=True,
                                         placeholder="Owners and admins"), e + "recipients"),
    ])


def rule_values(rule) -> list:
    """The form's values for an existing rule, in RULE_FIELDS order."""
    return [rule.name, rule.metric, rule.target_id, rule.condition, rule.threshold, rule.window_days,
            rule.rearm_hours, list(rule.channels), list(rule.recipients)]


def _fmt(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _button(label: str, kind: str, rule_id: int) -> html.Button:
    return html.Button(label, id={"type": kind, "index": rule_id}, className="link-button")


def _state(rule) -> str:
    label = STATE_LABELS.get(rule.state, rule.state)
    return f"{label} until {_fmt(rule.muted_until)}" if rule.state == "muted" and rule.muted_until else label


def _actions(rule, can_manage: bool) -> html.Div:
    buttons = [_button("History", Alerts.SHOW_HISTORY, rule.id)]
    if can_manage:
        buttons.append(_button("Edit", Alerts.EDIT, rule.id))
        buttons.append(_button("Unmute", Alerts.UNMUTE, rule.id) if rule.state == "muted"
                       else _button(f"Mute {MUTE_HOURS} h", Alerts.MUTE, rule.id))
        buttons.append(_button("Delete", Alerts.DELETE, rule.id))
    return html.Div(buttons, className="button-row")


def rules_table(rules: list, can_manage: bool):
    rows = [[r.name, METRIC_LABELS.get(r.metric, r.metric) + (f" · {r.target}" if r.target else ""),
             threshold_text(r.condition, r.threshold), f"{r.window_days} d",
             ", ".join(r.channels) or "webhooks only", _state(r), format_number(r.last_value), _fmt(r.evaluated_at),
             _actions(r, can_manage)] for r in rules]
    return simple_table(["Rule", "Metric", "Condition", "Window", "Channels", "State", "Last value", "Evaluated", ""],
                        rows, "No alert rules yet.")


def history_panel(rule, evaluations: list) -> html.Div:
    rows = [[_fmt(e.evaluated_at), format_number(e.value), STATE_LABELS.get(e.state, e.state),
             "yes" if e.notified else "—"] for e in evaluations]
    return html.Div([html.H2(f"History: {rule.name}"),
                     simple_table(["Evaluated", "Value", "State", "Notified"], rows, "Not evaluated yet.")],
                    className="panel")
