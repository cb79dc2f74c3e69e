"""Podcasts: the network's shows, their feed status and tracking prefix, and a form to add a feed."""
from dash import dcc, html, register_page

from components.ids import Podcasts

register_page(__name__, path="/podcasts", name="Podcasts", title="Podcasts · Podcast Analytics", order=10)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Podcasts.URL),
        html.Div(html.H1("Podcasts"), className="page-header"),
        html.Div([
            dcc.Input(id=Podcasts.FEED, type="url", placeholder="https://example.com/feed.xml", className="text-input"),
            html.Button("Import feed", id=Podcasts.IMPORT, className="primary-button"),
        ], className="form-row"),
        html.Div(id=Podcasts.MESSAGE),
        dcc.Loading(html.Div(id=Podcasts.TABLE)),
        html.H2("Measure with the tracking prefix"),
        html.P(["Put the show's prefix URL in front of each enclosure URL in your feed (or at your host), without the "
                "enclosure's scheme: ", html.Code("https://media.example.com/ep1.mp3"), " becomes ",
                html.Code("<prefix URL>media.example.com/ep1.mp3"), ". Each request is recorded and answered with a "
                "redirect to the audio at once."], className="muted"),
    ])
