"""The load bench_load.py puts on the stack, all on 127.0.0.1 and bounded in count and time: prefix hits at a steady
rate (each tagged with the phase it was sent in, in its User-Agent), simulated dashboard users who sign in and click
through the pages by calling their Dash callbacks over HTTP, and one log import through the Log import page's
callback."""
from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import requests
from local_servers import HOST, ROOT, get

AGENT = "AppleCoreMedia/1.0.0.20E247 (iPhone; U; CPU OS 16_4 like Mac OS X; en_us) bench-load/{phase}"
MEDIA_HOST = "media.bench.test"
TIMEOUT = 10.0  # seconds, every request
BROWSER_CONNECTIONS = 6  # a browser's HTTP/1.1 connections per host: a page's callbacks go out on at most this many
# The dashboards bench's callbacks (bench_dashboards.callbacks_to_time): label -> (module, function, output prefix).
CALLBACKS = {
    "overview: KPI cards": ("callbacks.overview", "update_kpis", "overview-"),
    "overview: downloads over time": ("callbacks.overview", "update_timeline", "overview-"),
    "overview: top episodes/apps/countries": ("callbacks.overview", "update_tops", "overview-"),
    "overview: this week summary": ("callbacks.insights", "week_summary", "overview-"),
    "episodes: grid": ("callbacks.episodes", "update_grid", "episodes-"),
    "episode: launch curves (+2 compared)": ("callbacks.episode", "update_launch", "episode-"),
    "episode: apps/devices/countries": ("callbacks.episode", "update_breakdowns", "episode-"),
    "audience: world map": ("callbacks.audience", "update_map", "audience-"),
    "audience: regions (US)": ("callbacks.audience", "update_regions", "audience-"),
    "audience: apps/devices/OS/referrers": ("callbacks.audience", "update_tech", "audience-"),
    "audience: weekday x hour heatmap": ("callbacks.audience", "update_heatmap", "audience-"),
    "insights: summary + anomalies": ("callbacks.insights", "update_insights", "insights-"),
    "podcast: forecast (next 8 weeks)": ("callbacks.overview", "update_forecast", "podcast-"),
    "logs: start import": ("callbacks.logs", "start_import", "logs-"),
}
_SPECS_CODE = """
import json, sys
from app import create_app
wanted = json.loads(sys.argv[1])
dash_app = create_app().extensions["podcast_dash"]
out = {}
for key, entry in dash_app.callback_map.items():
    fn = getattr(entry.get("callback"), "__wrapped__", None)
    for label, (module, name, prefix) in wanted.items():
        if fn is not None and (fn.__module__, fn.__name__) == (module, name) and key.lstrip(".").startswith(prefix):
            out[label] = {"output": key, "inputs": entry["inputs"], "state": entry["state"]}
print(json.dumps(out))
"""


def callback_specs(env: dict) -> dict:
    """Each callback's output key, inputs and state as the app registers them (read in a child process)."""
    res = subprocess.run([sys.executable, "-c", _SPECS_CODE, json.dumps(CALLBACKS)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    if res.returncode != 0:
        raise RuntimeError(f"reading the callbacks failed: {res.stderr[-800:]}")
    specs = json.loads(res.stdout.strip().splitlines()[-1])
    missing = set(CALLBACKS) - set(specs)
    if missing:
        raise RuntimeError(f"callbacks not found in the app: {sorted(missing)}")
    return specs


def _outputs(key: str) -> list[dict]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]


def callback_body(spec: dict, values: dict) -> dict:
    """The JSON the browser's renderer posts, with each input's value looked up by 'id.property' then by suffix."""
    def value(item):
        full = f"{item['id']}.{item['property']}"
        if full in values:
            return values[full]
        return values.get("-" + full.split("-", 1)[-1]) if "-" in item["id"] else None

    outputs = _outputs(spec["output"])
    first = spec["inputs"][0]
    return {"output": spec["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [{**i, "value": value(i)} for i in spec["inputs"]],
            "state": [{**s, "value": value(s)} for s in spec["state"]],
            "changedPropIds": [f"{first['id']}.{first['property']}"]}


class Recorder:
    """Latency samples per name, with when they were taken and whether they succeeded; the first error body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[tuple[float, float, bool, str | None]]] = defaultdict(list)

    def add(self, name: str, seconds: float, ok: bool, error: str | None = None) -> None:
        with self.lock:
            self.samples[name].append((time.monotonic(), seconds, ok, None if ok else (error or "")[:300]))

    def errors(self, since: float = 0.0, until: float = float("inf")) -> dict[str, tuple[int, str]]:
        """name -> (errors, the first error's text) in [since, until)."""
        out = {}
        with self.lock:
            for name, rows in self.samples.items():
                bad = [s for s in rows if since <= s[0] < until and not s[2]]
                if bad:
                    out[name] = (len(bad), bad[0][3])
        return out

    def table(self, since: float = 0.0, until: float = float("inf")) -> dict[str, tuple[int, int, float, float, float]]:
        """name -> (requests, errors, p50, p95, p99 ms) over the samples taken in [since, until)."""
        out = {}
        with self.lock:
            items = {k: [s for s in v if since <= s[0] < until] for k, v in self.samples.items()}
        for name, rows in sorted(items.items()):
            if not rows:
                continue
            lat = np.array([s[1] * 1000 for s in rows])
            out[name] = (len(rows), sum(1 for s in rows if not s[2]),
                         *(float(np.percentile(lat, q)) for q in (50, 95, 99)))
        return out

    def first_ok_after(self, name_prefix: str, t: float) -> float | None:
        with self.lock:
            times = [s[0] for k, v in self.samples.items() if k.startswith(name_prefix)
                     for s in v if s[0] >= t and s[2]]
        return min(times) if times else None


class PrefixLoad(threading.Thread):
    """Prefix hits at `rate` per second until stopped (or `max_seconds`), to `port`; 302s counted per phase."""

    def __init__(self, port: int, paths: list[str], rate: float, recorder: Recorder, max_seconds: float):
        super().__init__(name="prefix-load", daemon=True)
        self.port, self.paths, self.rate, self.recorder, self.max_seconds = port, paths, rate, recorder, max_seconds
        self.phase = "steady"
        self.sent: Counter = Counter()  # phase -> 302 answers (hits the product accepted)
        self.statuses: dict[str, Counter] = defaultdict(Counter)  # phase -> status -> count
        self.stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        interval, due, i = 1.0 / self.rate, time.monotonic(), 0
        while not self.stop_event.is_set() and time.monotonic() - started < self.max_seconds:
            phase = self.phase
            path = self.paths[i % len(self.paths)]
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            try:
                status, headers, secs = get(self.port, path, {"User-Agent": AGENT.format(phase=phase),
                                                             "X-Forwarded-For": ip}, timeout=TIMEOUT)
            except OSError as exc:
                status, headers, secs = 0, {}, TIMEOUT
                self.recorder.add("prefix /e/", secs, False, repr(exc))
            else:
                ok = status == 302 and headers.get("Location", "").startswith("https://")
                self.recorder.add("prefix /e/", secs, ok, f"HTTP {status}")
                if ok:
                    self.sent[phase] += 1
            self.statuses[phase][status] += 1
            i += 1
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
            elif delay < -1.0:
                due = time.monotonic()  # fell behind by a second: do not burst to catch up

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=TIMEOUT + 5)


class DashboardUser(threading.Thread):
    """One user: signs in over HTTP, then visits pages in random order, firing each page's callbacks at once (as the
    browser does on a page load: Dash posts every callback whose inputs are ready together, on up to
    BROWSER_CONNECTIONS connections), with think time between pages; until stopped or `max_seconds`. A page's time
    is from its first post until its last answer."""

    def __init__(self, n: int, port: int, email: str, password: str, specs: dict, values: dict,
                 recorder: Recorder, max_seconds: float, think: tuple[float, float] = (1.0, 3.0)):
        super().__init__(name=f"dashboard-user-{n}", daemon=True)
        self.base = f"http://{HOST}:{port}"
        self.email, self.password, self.specs, self.values = email, password, specs, values
        self.recorder, self.max_seconds, self.think = recorder, max_seconds, think
        self.rnd = random.Random(n)
        self.stop_event = threading.Event()
        pages: dict[str, list[str]] = defaultdict(list)
        for label in specs:
            if not label.startswith("logs:"):
                pages[label.split(":")[0]].append(label)
        self.pages = dict(pages)

    def login(self, session: requests.Session) -> bool:
        t = time.perf_counter()
        try:
            r = session.post(f"{self.base}/login", data={"email": self.email, "password": self.password, "next": "/"},
                             allow_redirects=False, timeout=TIMEOUT)
            ok = r.status_code == 302 and "session" in session.cookies
            self.recorder.add("POST /login", time.perf_counter() - t, ok, f"HTTP {r.status_code} {r.text[:200]}")
            return ok
        except requests.RequestException as exc:
            self.recorder.add("POST /login", time.perf_counter() - t, False, repr(exc))
            return False

    def run(self) -> None:
        started = time.monotonic()
        session = requests.Session()
        browser = ThreadPoolExecutor(max_workers=BROWSER_CONNECTIONS, thread_name_prefix=f"{self.name}-connection")
        self.stop_event.wait(self.rnd.uniform(0, 3))  # users arrive over a few seconds
        while not self.stop_event.is_set() and time.monotonic() - started < self.max_seconds:
            if "session" not in session.cookies and not self.login(session):
                self.stop_event.wait(2)
                continue
            page = self.rnd.choice(sorted(self.pages))
            page_started = time.perf_counter()
            answers = list(browser.map(lambda label: self.fire(session, label), self.pages[page]))
            self.recorder.add(f"page {page}", time.perf_counter() - page_started, all(answers))
            self.stop_event.wait(self.rnd.uniform(*self.think))
        browser.shutdown(wait=True)
        session.close()

    def fire(self, session: requests.Session, label: str) -> bool:
        t = time.perf_counter()
        try:
            r = session.post(f"{self.base}/_dash-update-component", json=callback_body(self.specs[label], self.values),
                             timeout=TIMEOUT)
            ok = r.status_code == 200
            self.recorder.add(label, time.perf_counter() - t, ok, f"HTTP {r.status_code}: {r.text[:250]}")
            if r.status_code in (401, 302):
                session.cookies.clear()
            return ok
        except requests.RequestException as exc:
            self.recorder.add(label, time.perf_counter() - t, False, repr(exc))
            return False

    def stop(self) -> None:
        self.stop_event.set()


def combined_log(enclosures: list[str], lines: int, days: int = 3, seed: int = 7) -> bytes:
    """An nginx combined log of `lines` full downloads of these enclosure paths over the last `days` days."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    out = []
    for i in range(lines):
        ts = now - timedelta(seconds=rnd.randrange(1, days * 86400))
        path = enclosures[rnd.randrange(len(enclosures))]
        out.append(f'198.18.{(i >> 8) & 255}.{i & 255} - - [{ts:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" '
                   f'200 {rnd.randrange(2_000_000, 40_000_000)} "-" "{AGENT.format(phase="log-import")}"')
    return ("\n".join(out) + "\n").encode()


def start_log_import(port: int, email: str, password: str, spec: dict, log: bytes) -> str:
    """Upload the log through the Log import page's callback; the RQ job id it answers."""
    base = f"http://{HOST}:{port}"
    with requests.Session() as session:
        r = session.post(f"{base}/login", data={"email": email, "password": password, "next": "/"},
                         allow_redirects=False, timeout=TIMEOUT)
        if r.status_code != 302:
            raise RuntimeError(f"log import: sign-in answered {r.status_code}")
        values = {"logs-upload.contents": "data:text/plain;base64," + base64.b64encode(log).decode(),
                  "logs-upload.filename": "bench-load-access.log", "logs-format.value": "combined",
                  "logs-host.value": MEDIA_HOST, "logs-import.n_clicks": 1}
        r = session.post(f"{base}/_dash-update-component", json=callback_body(spec, values), timeout=60)
        if r.status_code != 200:
            raise RuntimeError(f"log import: the callback answered {r.status_code}: {r.text[:300]}")
        data = next(iter(r.json()["response"].values()))["data"]
        if "job" not in data:
            raise RuntimeError(f"log import refused: {data}")
        return data["job"]
