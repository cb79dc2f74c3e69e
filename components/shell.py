"""The app shell: header with tenant and user menu, navigation from the page registry, page content."""
from __future__ import annotations

from dash import dcc, html

from components.ids import Shell


def nav_links(pages: list[dict], portal_only: bool = False, view_query: str = "") -> list:
    """Links for pages that ask to be in the navigation, in their registry order; a sponsor user's navigation
    (`portal_only`) has only the sponsor portal's pages (registered with portal=True). Dashboard pages (registered
    with keeps_view=True) open with `view_query`, so the period, comparison and podcast follow the user."""
    return [dcc.Link(p["name"], href=p["relative_path"] + (view_query if p.get("keeps_view") else ""),
                     className="nav-link") for p in pages
            if p.get("nav", True) and not p.get("path_template") and (p.get("portal") or not portal_only)]


def notification_bell(unread: int) -> dcc.Link:
    """The bell in the header: a link to the notifications page with the unread count (hidden at zero)."""
    label = f"{unread} unread notification{'s' if unread != 1 else ''}"
    return dcc.Link([html.Span("🔔", className="bell-icon", **{"aria-hidden": "true"}),
                     html.Span("Notifications", className="visually-hidden"),
                     html.Span(bell_count(unread), id=Shell.BELL_COUNT,
                               className="bell-count" if unread else "bell-count bell-count-zero")],
                    href="/notifications", id=Shell.BELL, className="bell", title=label)


def bell_count(unread: int) -> str:
    return "" if unread <= 0 else ("99+" if unread > 99 else str(unread))


# Dash's page template with the document's language, and without the <footer> Dash wraps its scripts in (a second
# contentinfo landmark beside the app's own footer).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        {%config%}
        {%scripts%}
        {%renderer%}
    </body>
</html>"""


def nav_toggle() -> html.Button:
    """The phone layout's menu button (hidden on wider screens); assets/a11y.js opens and closes the navigation."""
    return html.Button([html.Span("☰", className="nav-toggle-icon", **{"aria-hidden": "true"}), "Menu"],
                       type="button", className="nav-toggle link-button",
                       **{"aria-expanded": "false", "aria-controls": Shell.NAV})


def app_shell(pages: list[dict], content) -> html.Div:
    header = html.Header([
        nav_toggle(),
        html.Div([html.Span("◉", className="brand-mark", **{"aria-hidden": "true"}),
                  html.Span("Podcast Analytics", className="brand-name")], className="brand"),
        html.Span(id=Shell.TENANT, className="tenant-name"),
        html.Div([
            notification_bell(0),
            dcc.Interval(id=Shell.BELL_POLL, interval=60_000),
            html.Span(id=Shell.USER, className="user-email"),
            html.A("Security", href="/account/security", className="link-button", title="Two-factor sign-in"),
            html.Form(html.Button("Sign out", type="submit", className="link-button"),
                      method="post", action="/logout", className="logout-form"),
        ], className="user-menu"),
    ], className="app-header")
    footer = html.Footer(["Counted per the IAB Tech Lab Podcast Measurement Guidelines v2.3 · ",
                          dcc.Link("Methodology", href="/methodology")], className="app-footer")
    return html.Div([
        html.A("Skip to content", href="#main", className="skip-link"),
        dcc.Location(id=Shell.URL),
        header,
        html.Div([html.Nav(nav_links(pages), id=Shell.NAV, className="app-nav", **{"aria-label": "Main"}),
                  html.Main(content, id="main", className="app-main")], className="app-body"),
        footer,
    ], className="app-shell")
