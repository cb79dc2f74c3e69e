"""Legible charts: one number format for KPI cards and hovers, ranked bars whose long labels are cut on the axis and
whole in the hover, a colour-blind-safe colorway, and empty charts that say why and what to do."""
from __future__ import annotations

import math

import pandas as pd
import plotly.io as pio
import pytest

from components import charts, kpi
from components.numbers import format_number, format_percent
from components.theme import TEMPLATE_NAME

OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}


@pytest.mark.parametrize("value, shown", [
    (0, "0"), (7, "7"), (999, "999"), (12.25, "12.2"), (999.96, "1.0k"), (1000, "1.0k"), (1234, "1.2k"),
    (12_345, "12.3k"), (999_949, "999.9k"), (999_960, "1.0M"), (3_400_000, "3.4M"), (2_500_000_000, "2.5B"),
    (-1234, "-1.2k"), (None, "—"), (math.nan, "—"),
])
def test_format_number(value, shown):
    assert format_number(value) == shown


@pytest.mark.parametrize("share, signed, shown", [
    (0.1234, False, "12.3%"), (0.04, False, "4.0%"), (1, False, "100.0%"), (0.125, True, "+12.5%"),
    (-0.5, True, "-50.0%"), (None, False, "—"),
])
def test_format_percent(share, signed, shown):
    assert format_percent(share, signed) == shown


def test_kpi_cards_use_the_same_format():
    card = kpi.kpi_card("Downloads", 12_345, change=-0.0375, hint="vs before")
    value, change = card.children[1].children, card.children[2].children
    assert value == format_number(12_345) == "12.3k"
    assert change == "▼ 3.8% vs before"
    assert kpi.format_number is format_number  # one helper, re-exported


def test_ranked_bars_cut_long_labels_and_show_them_whole_on_hover():
    long = "Episode 212: An extremely long conversation about measurement, attribution and the IAB guidelines"
    frame = pd.DataFrame({"episode": [long, long[:-5] + " (part 2)", "Short"], "downloads": [12_345, 2_000, 7]})
    fig = charts.bar_figure(frame, "episode").to_plotly_json()
    trace, yaxis = fig["data"][0], fig["layout"]["yaxis"]
    assert trace["orientation"] == "h" and yaxis["automargin"] is True
    assert list(yaxis["tickvals"]) == frame["episode"].tolist()  # bars keyed on the whole label: none merge
    assert all(len(t) <= charts.LABEL_CHARS for t in yaxis["ticktext"])
    assert yaxis["ticktext"][0].endswith("…") and yaxis["ticktext"][2] == "Short"
    assert [list(c) for c in trace["customdata"]] == [[long, "12.3k"], [frame["episode"][1], "2.0k"], ["Short", "7"]]
    assert "%{customdata[0]}" in trace["hovertemplate"] and "%{customdata[1]}" in trace["hovertemplate"]
    # One row per bar: 50 episodes get a taller chart than 5, so the labels keep their spacing.
    many = pd.DataFrame({"episode": [f"Episode {i}" for i in range(50)], "downloads": range(50)})
    tall = charts.bar_figure(many, "episode").to_plotly_json()["layout"]["height"]
    assert tall >= 50 * charts.BAR_ROW_PX > fig["layout"]["height"]


def test_short_label():
    assert charts.short_label("  A   spaced\ttitle ") == "A spaced title"
    assert charts.short_label("x" * 50, 10) == "x" * 9 + "…"


def test_template_colorway_is_okabe_ito():
    colorway = pio.templates[TEMPLATE_NAME].layout.colorway
    assert set(colorway) == OKABE_ITO


def test_an_empty_chart_says_why_and_what_to_do():
    fig = charts.no_downloads_figure()
    (note,) = fig.layout.annotations
    assert note.text.startswith("No downloads in this period<br>")
    assert "Widen the period" in note.text and "tracking prefix" in note.text
    assert fig.layout.xaxis.visible is False
    advice = note.text.split("<br>", 1)[1]
    assert all(len(line) <= 40 + len("<span style='font-size:12px'>") for line in advice.split("<br>"))  # phone-wide
    plain = charts.empty_figure("Click a country on the map")
    assert plain.layout.annotations[0].text == "Click a country on the map"


def test_dashboard_breakdowns_explain_an_empty_period():
    from callbacks.dashboard import breakdown_figures

    (empty, filled) = breakdown_figures(
        lambda d: pd.DataFrame({d: [], "downloads": []}) if d == "app" else pd.DataFrame({d: ["US"], "downloads": [3]}),
        ("app", "country"))
    assert "widen the period" in empty.layout.annotations[0].text.lower()
    assert filled.to_plotly_json()["data"][0]["customdata"][0][1] == "3"
