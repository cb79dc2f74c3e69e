"""The embed's plotly.js: the partial bundle its chart needs when installed at the plotly package's plotly.js version,
else the full bundle; served under content-addressed URLs with immutable caching, an ETag (304) and gzip."""
from __future__ import annotations

import gzip
import re

import pytest

from api import embed_assets
from api.embed import BUNDLES
from tests.unit.embeds.conftest import owner
from tests.unit.embeds.helpers import make

CHARTS = ("downloads_timeline", "top_episodes", "top_apps", "top_countries", "world_map", "episode_launch",
          "campaign_delivery", "campaign_attribution")


def _partials(root, version: str = "4.1.1", names=("basic", "geo")):
    """A stand-in tools/plotly/node_modules holding the named partial bundles at `version`."""
    for name in names:
        path = root / embed_assets.PARTIAL_FILES[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/**\n* plotly.js ({name}) v{version}\n*/\nwindow.Plotly = {{}};\n")
    return root


@pytest.fixture
def full_js(tmp_path):
    path = tmp_path / "plotly.min.js"
    path.write_text("/**\n* plotly.js v4.1.1\n*/\n" + "window.Plotly = {};\n" * 5000)
    return path


def test_the_plotly_packages_own_bundle_names_its_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", embed_assets.plotly_js_version(embed_assets.FULL_JS))


def test_each_chart_gets_the_partial_bundle_that_draws_it(tmp_path, full_js):
    bundles = embed_assets.find_bundles(_partials(tmp_path / "nm"), full_js)
    assert set(bundles) == {"full", "basic", "geo"}
    picked = {chart: embed_assets.bundle_for(bundles, chart).name for chart in CHARTS}
    assert picked == {**dict.fromkeys(CHARTS, "basic"), "world_map": "geo"}


def test_without_the_partial_bundles_every_chart_gets_the_full_one(tmp_path, full_js):
    for partials in (tmp_path / "absent",  # a machine that ran only the README's pip command
                     _partials(tmp_path / "old", version="3.0.0"),  # another plotly.js version: never mixed
                     _partials(tmp_path / "basic-only", names=("basic",))):
        bundles = embed_assets.find_bundles(partials, full_js)
        assert "geo" not in bundles and embed_assets.bundle_for(bundles, "world_map").name == "full"
        assert ("basic" in bundles) == (partials.name == "basic-only")
    assert embed_assets.bundle_for({"full": bundles["full"]}, "top_apps").name == "full"


def test_the_url_changes_with_the_content(tmp_path, full_js):
    before = embed_assets.find_bundles(tmp_path / "absent", full_js)["full"]
    full_js.write_text(full_js.read_text() + "// changed\n")
    after = embed_assets.find_bundles(tmp_path / "absent", full_js)["full"]
    assert before.url != after.url and before.url.startswith("/embed/assets/plotly/plotly-full.")


@pytest.fixture
def served(world, monkeypatch, tmp_path, full_js):
    """The app serving stand-in bundles (basic and geo partials, and the full one)."""
    bundles = embed_assets.find_bundles(_partials(tmp_path / "nm"), full_js)
    monkeypatch.setitem(world["app"].extensions, BUNDLES, bundles)
    return bundles


def test_the_page_loads_and_names_its_charts_bundle(world, served, monkeypatch):
    client = world["app"].test_client()
    for chart, name in (("top_apps", "basic"), ("world_map", "geo")):
        html = client.get(f"/embed/{make(world, owner(world), chart)[1]}").get_data(as_text=True)
        assert f'<script src="{served[name].url}"></script>' in html, chart
        assert f'data-plotly-bundle="{name}"' in html, chart
    monkeypatch.setitem(world["app"].extensions, BUNDLES, {"full": served["full"]})  # no partial bundles
    html = client.get(f"/embed/{make(world, owner(world), 'world_map')[1]}").get_data(as_text=True)
    assert f'<script src="{served["full"].url}"></script>' in html and 'data-plotly-bundle="full"' in html


def test_bundles_are_cached_for_good_and_gzipped(world, served):
    client, bundle = world["app"].test_client(), served["full"]
    plain = client.get(bundle.url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.data == bundle.path.read_bytes()
    assert plain.mimetype == "text/javascript" and "Content-Encoding" not in plain.headers
    zipped = client.get(bundle.url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 10
    for response in (plain, zipped):
        cache = response.headers["Cache-Control"]
        assert "immutable" in cache and "public" in cache and "max-age=31536000" in cache
        assert "Accept-Encoding" in response.headers["Vary"]
    assert plain.headers["ETag"] != zipped.headers["ETag"]  # one per encoding
    again = client.get(bundle.url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    stale = client.get(bundle.url, headers={"Accept-Encoding": "gzip", "If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == zipped.data


def test_unknown_bundle_urls_are_404(world, served):
    client = world["app"].test_client()
    digest = served["basic"].digest[:16]
    for url in (f"/embed/assets/plotly/plotly-basic.{'0' * 16}.min.js", f"/embed/assets/plotly/plotly-other.{digest}"
                ".min.js", "/embed/assets/plotly/plotly-basic.min.js", "/embed/assets/plotly/app.py"):
        response = client.get(url)
        assert response.status_code == 404 and b"Traceback" not in response.data, url
