"""The getting-started checklists (podcast side, sponsor side) and the per-host instructions for the tracking prefix."""
from __future__ import annotations

from dash import dcc, html

EXAMPLE_ENCLOSURE = "media.example.com/show/ep1.mp3"

# Where each host takes an analytics prefix (hosts call it a prefix, a tracking URL or a URL prepend). Short on purpose:
# hosts move their menus; the check at the end (the feed's enclosures start with the prefix) is what matters.
HOSTS = (
    ("Libsyn", "In your show's settings, find the analytics URL prepend (Libsyn calls a prefix a \"URL prepend\"), "
               "paste the prefix and save. Libsyn adds it to every enclosure in the feed."),
    ("Buzzsprout", "Podcast Settings, then the advanced settings: paste the prefix in the third-party analytics "
                   "(tracking prefix) field and save."),
    ("Transistor", "Open the show, Settings, and paste the prefix in the analytics prefix (tracking URL) field; "
                   "save the show."),
    ("Podbean", "Settings, then the feed settings: paste the prefix in the analytics / tracking prefix field and save."),
    ("Captivate", "Show Settings, then the analytics / tracking section: add the prefix as a third-party tracking "
                  "prefix and save."),
)


def prefix_example(prefix: str) -> str:
    return prefix + EXAMPLE_ENCLOSURE


def checklist(title: str, steps, element_id: str) -> html.Section:
    """Numbered steps, each ticked when the data shows it done, each linking to where it is done."""
    items = [html.Li([
        html.Span("✓" if step.done else "○", className="check-mark", **{"aria-hidden": "true"}),
        dcc.Link(step.title, href=step.href),
        html.Span(" (done)" if step.done else " (to do)", className="visually-hidden"),
    ], className="checklist-step done" if step.done else "checklist-step", **{"data-step": step.key})
        for step in steps]
    return html.Section([html.H2(title), html.Ol(items, className="checklist")], id=element_id,
                        className="panel onboarding")


def host_instructions(prefix: str) -> html.Section:
    """How to put `prefix` in front of the enclosures at each host, and on a self-hosted nginx."""
    hosts = [html.Details([html.Summary(name), html.P(text)], className="host-howto") for name, text in HOSTS]
    hosts.append(html.Details([html.Summary("Self-hosted (nginx)"), html.P([
        "Either write the prefix into the feed's enclosure URLs (", html.Code(prefix_example(prefix)), "), or "
        "point the feed's enclosures at a /listen/ path and let nginx send each request through the prefix to the "
        "file under /media/:"]),
        html.Pre(html.Code("location ~ ^/listen/(.*)$ {\n"
                           f"    return 302 {prefix}$host/media/$1;\n"
                           "}")),
    ], className="host-howto"))
    return html.Section([
        html.H2("Put the prefix in front of your enclosures", id="hosts"),
        html.P(["Your prefix is ", html.Code(prefix), ". Each enclosure keeps its address without the scheme: ",
                html.Code("https://" + EXAMPLE_ENCLOSURE), " becomes ", html.Code(prefix_example(prefix)), "."]),
        *hosts,
        html.P("Then open your feed and check that the enclosure URLs start with the prefix; downloads appear on the "
               "overview once they are counted.", className="muted"),
    ], className="panel")


def onboarding_panel(status, prefix: str | None) -> html.Div | None:
    """What the overview shows a network that is getting started; None once both sides are running."""
    if status.podcast_side_open:
        return html.Div([checklist("Get started: measure your show", status.podcast_steps, "onboarding-podcast"),
                         html.P(dcc.Link("Step-by-step set-up, with instructions for your host", href="/welcome"))],
                        className="onboarding-box")
    if status.sponsor_side_open:
        return html.Div(checklist("Next: sell your first sponsorship", status.sponsor_steps, "onboarding-sponsor"),
                        className="onboarding-box")
    return None
