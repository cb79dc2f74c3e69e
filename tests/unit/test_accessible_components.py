"""The shared builders carry what assistive technology and a phone need: the page's language, one footer landmark,
a labelled navigation behind a menu button, tables in their own scrolling box, charts named by their titles."""
from __future__ import annotations

import re

from dash import dcc, html

from components.controls import chart_card, graph
from components.ids import Overview, Shell
from components.shell import INDEX_STRING, app_shell, notification_bell
from components.tables import simple_table


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)


def test_the_page_template_declares_english_and_leaves_the_footer_to_the_app():
    assert '<html lang="en">' in INDEX_STRING
    assert "<footer" not in INDEX_STRING
    for slot in ("{%metas%}", "{%css%}", "{%app_entry%}", "{%config%}", "{%scripts%}", "{%renderer%}"):
        assert slot in INDEX_STRING


def test_a_signed_in_page_is_served_with_its_language_and_one_footer(demo_client):
    page = demo_client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<footer" not in page  # the app's own footer is rendered by React, not by the template


def test_the_shell_has_a_skip_link_a_labelled_navigation_and_a_menu_button_for_it():
    shell = app_shell([{"name": "Overview", "relative_path": "/", "path": "/"}], html.Div("content"))
    nodes = list(_walk(shell))
    skip = next(n for n in nodes if isinstance(n, html.A) and n.className == "skip-link")
    main = next(n for n in nodes if isinstance(n, html.Main))
    assert skip.href == f"#{main.id}"
    nav = next(n for n in nodes if isinstance(n, html.Nav))
    assert getattr(nav, "aria-label") == "Main"
    toggle = next(n for n in nodes if isinstance(n, html.Button) and "nav-toggle" in n.className)
    assert getattr(toggle, "aria-controls") == nav.id == Shell.NAV
    assert getattr(toggle, "aria-expanded") == "false"
    assert toggle.type == "button"  # never submits a form it happens to sit in


def test_the_bell_is_named_for_what_it_opens():
    bell = notification_bell(3)
    hidden = [n for n in _walk(bell) if isinstance(n, html.Span) and n.className == "visually-hidden"]
    assert [n.children for n in hidden] == ["Notifications"]


def test_a_table_scrolls_in_its_own_box_and_names_its_action_column():
    box = simple_table(["Name", ""], [["a", html.Button("Revoke")]])
    assert isinstance(box, html.Div) and box.className == "table-scroll"
    table = box.children
    assert isinstance(table, html.Table) and table.className == "data-table"
    headers = table.children[0].children.children
    assert [h.scope for h in headers] == ["col", "col"]
    assert headers[0].children == "Name"
    assert headers[1].children.children == "Actions" and headers[1].children.className == "visually-hidden"


def test_an_empty_table_is_a_sentence_not_a_box():
    assert isinstance(simple_table(["Name"], [], "No keys yet."), html.P)


def test_a_chart_is_a_figure_named_by_its_card_title_and_described_by_its_note():
    card = chart_card(Overview, "timeline", "Downloads over time", graph(Overview.CHART), "Bars: downloads.")
    nodes = list(_walk(card))
    title = next(n for n in nodes if isinstance(n, html.H2))
    note = next(n for n in nodes if isinstance(n, html.P))
    figure = next(n for n in nodes if getattr(n, "role", None) == "figure")
    assert title.children == "Downloads over time"
    assert getattr(figure, "aria-labelledby") == title.id
    assert getattr(figure, "aria-describedby") == note.id
    assert any(isinstance(n, dcc.Graph) for n in _walk(figure))
    csv = next(n for n in nodes if isinstance(n, html.Button))
    assert csv.children == "Download CSV" and "Downloads over time" in csv.title
    ids = [n.id for n in nodes if isinstance(getattr(n, "id", None), str)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


def test_a_chart_without_a_note_is_described_by_nothing():
    card = chart_card(Overview, "top-apps", "Top apps", graph(Overview.TOP_APPS))
    figure = next(n for n in _walk(card) if getattr(n, "role", None) == "figure")
    assert not hasattr(figure, "aria-describedby") or getattr(figure, "aria-describedby") is None
