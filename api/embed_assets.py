"""The plotly.js an embed page loads: the smallest bundle that draws its chart, served under a content-addressed URL
with year-long immutable caching, an ETag and gzip.

plotly.js's official partial bundles (basic: scatter, bar, pie; geo: choropleth, scattergeo) are about a quarter
of the full bundle, and parsing plotly.js is most of an embed's first render. They come from npm, pinned in
tools/plotly/package.json (`npm ci --prefix tools/plotly`), and serve only at the plotly.js version of the plotly
Python package's own full bundle, so an embed draws the same with either; without them (a machine that ran only
`pip install -r requirements.txt`) every embed loads that full bundle."""
from __future__ import annotations

import gzip
import hashlib
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import plotly
from flask import Request, Response, send_file

logger = logging.getLogger(__name__)

PARTIALS_DIR = Path(__file__).resolve().parents[1] / "tools" / "plotly" / "node_modules"
FULL_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PARTIAL_FILES = {"basic": "plotly.js-basic-dist-min/plotly-basic.min.js",
                 "geo": "plotly.js-geo-dist-min/plotly-geo.min.js"}
# The trace types each embed chart draws decide its bundle: the world map is a choropleth (geo); every other chart
# (components/embed_figures.py) draws only bar and scatter traces (basic).
CHART_BUNDLES = {"world_map": "geo"}
URL_PREFIX = "/embed/assets/plotly/"
MAX_AGE = 365 * 86400  # the URL changes with the content, so a cached copy is never stale
_VERSION = re.compile(rb"plotly\.js (?:\([^)]*\) )?v(\d+\.\d+\.\d+)")  # "plotly.js (basic - minified) v4.1.1"


@dataclass(frozen=True)
class Bundle:
    name: str  # "basic", "geo" or "full"
    path: Path
    digest: str  # sha256 of the file, hex

    @property
    def file_name(self) -> str:
        return f"plotly-{self.name}.{self.digest[:16]}.min.js"

    @property
    def url(self) -> str:
        return URL_PREFIX + self.file_name


def plotly_js_version(path: Path) -> str | None:
    """The plotly.js version in a bundle's banner comment ("plotly.js v4.1.1"), or None."""
    with path.open("rb") as handle:
        match = _VERSION.search(handle.read(1024))
    return match.group(1).decode() if match else None


def find_bundles(partials_dir: Path = PARTIALS_DIR, full_js: Path = FULL_JS) -> dict[str, Bundle]:
    """The bundles this machine can serve, by name: always "full", and each partial bundle that is installed at the
    full bundle's plotly.js version."""
    bundles = {"full": _bundle("full", full_js)}
    version = plotly_js_version(full_js)
    for name, relative in PARTIAL_FILES.items():
        path = partials_dir / relative
        if not path.is_file():
            continue
        found = plotly_js_version(path)
        if version is None or found != version:
            logger.warning("plotly.js %s bundle %s is v%s, the plotly package's is v%s: embeds use the full bundle "
                           "(npm ci --prefix tools/plotly after updating tools/plotly/package.json)", name, path,
                           found, version)
            continue
        bundles[name] = _bundle(name, path)
    return bundles


def bundle_for(bundles: dict[str, Bundle], chart: str) -> Bundle:
    """The smallest served bundle that draws `chart`, else the full one."""
    return bundles.get(CHART_BUNDLES.get(chart, "basic")) or bundles["full"]


def bundle_by_file(bundles: dict[str, Bundle], file_name: str) -> Bundle | None:
    return next((b for b in bundles.values() if b.file_name == file_name), None)


def bundle_response(bundle: Bundle, request: Request) -> Response:
    """The bundle, gzipped when the client takes gzip (compressed once per process), with an ETag per encoding:
    304 for a matching If-None-Match."""
    gzipped = request.accept_encodings["gzip"] > 0
    if gzipped:
        response = Response(_gzipped(bundle.path, bundle.digest), mimetype="text/javascript")
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(bundle.digest + "-gzip")
    else:
        response = send_file(bundle.path, mimetype="text/javascript", conditional=False, etag=False)
        response.set_etag(bundle.digest)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    response.cache_control.immutable = True
    response.vary.add("Accept-Encoding")
    return response.make_conditional(request)


def _bundle(name: str, path: Path) -> Bundle:
    stat = path.stat()
    return Bundle(name, path, _digest(path, stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=16)
def _digest(path: Path, _size: int, _mtime_ns: int) -> str:
    """sha256 of a file, once per process per version of it (size and mtime are part of the cache key)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=4)
def _gzipped(path: Path, _digest: str) -> bytes:
    """The file gzipped, once per process per version, on its first request (about 0.3 s for a partial bundle; level
    9 would take up to twice as long for 0.2% fewer bytes); no timestamp, so the same bytes every time."""
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
