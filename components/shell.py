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
                     html.Span(bell_count(unread), id=Shell.BELL_COUNT,
                               className="bell-count" if unread else "bell-count bell-count-zero")],
                    href="/notifications", id=Shell.BELL, className="bell", title=label)


def bell_count(unread: int) -> str:
    return "" if unread <= 0 else ("99+" if unread > 99 else str(unread))


def app_shell(pages: list[dict], content) -> html.Div:
    header = html.Header([
        html.Div([html.Span("◉", className="brand-mark"), html.Span("Podcast Analytics", className="brand-name")],
                 className="brand"),
        html.Span(id=Shell.TENANT, className="tenant-name"),
        html.Div([
            notification_bell(0),
            dcc.Interval(id=Shell.BELL_POLL, interval=60_000),
            html.Span(id=Shell.USER, className="user-email"),
            html.Form(html.Button("Sign out", type="submit", className="link-button"),
                      method="post", action="/logout", className="logout-form"),
        ], className="user-menu"),
    ], className="app-header")
    footer = html.Footer(["Counted per the IAB Tech Lab Podcast Measurement Guidelines v2.3 · ",
                          dcc.Link("Methodology", href="/methodology")], className="app-footer")
    return html.Div([
        dcc.Location(id=Shell.URL),
        header,
        html.Div([html.Nav(nav_links(pages), id=Shell.NAV, className="app-nav"),
                  html.Main(content, className="app-main")], className="app-body"),
        footer,
    ], className="app-shell")
