"""Episodes: every episode in a sortable, filterable grid with search; a row opens the episode."""
import dash_ag_grid as dag
from dash import dcc, html, register_page

from components.controls import dashboard_controls
from components.episodes import COLUMNS, grid_columns
from components.ids import Episodes
from services.dashboards.grid_view import GridView
from services.dashboards.periods import ViewState

register_page(__name__, path="/episodes", name="Episodes", title="Episodes · Podcast Analytics", order=12,
              keeps_view=True)


def layout(**query):
    state, grid = ViewState.from_query(query), GridView.from_query(query, COLUMNS)
    return html.Div([
        html.Div(html.H1("Episodes"), className="page-header"),
        dashboard_controls(Episodes, state, granularity=False),
        html.Div(id=Episodes.MESSAGE),
        html.Section([
            html.Div([
                html.Label("Search", htmlFor=Episodes.SEARCH, className="control-label"),
                dcc.Input(id=Episodes.SEARCH, type="search", placeholder="Search episodes…", debounce=False,
                          value=grid.search, className="text-input"),
                html.Button("Download CSV", id=Episodes.EXPORT, className="link-button csv-button",
                            title="The rows the grid shows, as filtered and sorted"),
                html.A("All rows (CSV stream)", id=Episodes.STREAM, href="/api/v1/exports/episodes.csv",
                       className="link-button"),
            ], className="card-header"),
            html.P("Episodes released in the period above (all of them for all time). Downloads at 1/3/7/30 days count UTC days from the release day and stay empty until those days "
                   "have passed; listeners are daily distinct listeners summed over days; 'In range' follows the "
                   "period above; the top app is the launch week's. Click a row to open the episode.", className="muted card-note"),
            dcc.Loading(dag.AgGrid(
                id=Episodes.GRID, columnDefs=grid_columns(grid.sort), rowData=[], filterModel=dict(grid.filters),
                defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": False},
                dashGridOptions={"pagination": True, "paginationPageSize": 20, "animateRows": False,
                                 "quickFilterText": grid.search},
                getRowId="params.data.row_id", csvExportParams={"fileName": "episodes.csv"},
                columnSize="responsiveSizeToFit", className="episodes-grid",
                style={"height": "620px"}), type="default", delay_show=150),
        ], className="chart-card"),
    ])
