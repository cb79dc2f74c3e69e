"""Form builders: a labelled control with its message slot beside it, so a service's per-field errors show in place."""
from __future__ import annotations

from dash import dcc, html


def field(label: str, control, error_id: str, hint: str | None = None) -> html.Div:
    """One form field: label, control, optional hint, and the slot its validation message goes to."""
    return html.Div([
        html.Label(label, htmlFor=control.id, className="field-label"),
        control,
        html.Div(id=error_id, className="field-error", role="alert", **{"aria-live": "polite"}),
        html.Div(hint, className="field-hint") if hint else None,
    ], className="form-field")


def text_input(component_id: str, placeholder: str = "", value=None, input_type: str = "text") -> dcc.Input:
    return dcc.Input(id=component_id, type=input_type, placeholder=placeholder, value=value, className="text-input",
                     debounce=False)


# Weeks start on Monday: the tenant has no week-start setting, and the dashboards' weekly buckets start on Monday too.
WEEK_START = 1  # dcc date pickers: 0 Sunday ... 6 Saturday
DATE_FORMAT = "YYYY-MM-DD"  # what the picker shows and accepts when typed; its value is always an ISO date
DATE_FIELDS = ("start_date", "end_date")


def date_input(component_id: str, placeholder: str = "YYYY-MM-DD", value=None) -> dcc.DatePickerSingle:
    """A calendar date, picked (or typed as YYYY-MM-DD); the value is an ISO date string or None."""
    return dcc.DatePickerSingle(id=component_id, date=value, placeholder=placeholder, display_format=DATE_FORMAT,
                                first_day_of_week=WEEK_START, clearable=True, className="date-input")


def value_prop(name: str) -> str:
    """The property that holds a form field's value: a date picker's `date`, any other control's `value`."""
    return "date" if name in DATE_FIELDS else "value"


def error_messages(fields: tuple[str, ...] | list[str], errors: dict[str, str]) -> list:
    """The message for each field in order (None where the field is fine)."""
    return [errors.get(name) for name in fields]


def form_grid(fields: list) -> html.Div:
    return html.Div(fields, className="form-grid")
