"""wrk load on loopback for the endpoint benchmarks: a Lua script that cycles request paths (episode prefixes,
pixel calls) and real podcast-app agents and counts the hits answered, running wrk, and reading and printing its
results."""
from __future__ import annotations

import json
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from local_servers import HOST

AGENTS = [  # 7 (prime, so agent and path cycles do not lock together) real podcast-app agents
    "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4_1 like Mac OS X; en_us)",
    "Podcasts/1.1.0.4 CFNetwork/1494.0.7 Darwin/23.4.0",
    "Spotify/8.9.36 iOS/17.4.1 (iPhone15,2)",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
    "PocketCasts/1.0 (Pocket Casts - Android v7.59.1) ExoPlayerLib/2.19.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Castro 2024.4 (3)",
]
TAIL_SECONDS = 3  # the last seconds of each wrk run send /healthz, not hits (see lua_script)


def parse_duration(text: str) -> float:
    """wrk's '12.34ms' / '850.00us' / '1.02s' / '1.00m' -> milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m[1]), m[2]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


@dataclass
class WrkResult:
    label: str
    requests: int  # all answered requests, /healthz tail included
    seconds: float
    rps: float  # 302 answers / hit window: the figure compared
    wrk_rps: float  # wrk's own Requests/sec, tail included
    latency_ms: dict[str, float]  # wrk's distribution (the short /healthz tail included)
    non_2xx_3xx: int
    socket_errors: str
    hits_302: int
    other_status: int  # neither 302 nor the tail's 200
    sent: int  # hits written
    tail: int  # /healthz requests written in the tail
    window: float  # seconds hits were sent (mean over threads)
    raw: str = field(repr=False, default="")


def parse_wrk(label: str, out: str) -> WrkResult:
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    requests, seconds = int(m[1]), parse_duration(m[2] + m[3]) / 1000
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    lat = {p: parse_duration(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M)}
    avg_max = re.search(r"Latency\s+(\S+)\s+\S+\s+(\S+)", out)
    lat["avg"], lat["max"] = parse_duration(avg_max[1]), parse_duration(avg_max[2])
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    bench = re.search(r"BENCH hits=(\d+) other=(\d+) sent=(\d+) tail=(\d+) window=([\d.]+)", out)
    window = float(bench[5]) or seconds
    return WrkResult(label, requests, seconds, int(bench[1]) / window, rps, lat, int(non[1]) if non else 0,
                     sock[1] if sock else "none", int(bench[1]), int(bench[2]), int(bench[3]), int(bench[4]),
                     window, out)


def lua_script(paths: list[str], hit_status: int = 302, hit_type: str | None = None, event_ids: bool = False) -> str:
    """Cycle through the paths and the agents; count hits (answers `hit_status`, with Content-Type `hit_type` when
    given), other statuses, and hits written, per thread, summed in done(). With `event_ids` each path gets a
    unique suffix (run nonce, thread, request number: see run_wrk), e.g. the pixel's `id=`, so no two calls are one
    event.

    For the last `tail` seconds (wrk argument) a thread sends GET /healthz instead of hits, so when wrk stops
    at its duration the requests still in flight are not hits: every hit written has had its answer counted,
    and rows == hits sent can hold exactly. Throughput is the 302s over the hit window (clock_gettime via FFI)."""
    path_list = ",\n".join(json.dumps(p) for p in paths)
    agent_list = ",\n".join(json.dumps(a) for a in AGENTS)
    return f"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local paths = {{
{path_list}
}}
local agents = {{
{agent_list}
}}
local threads = {{}}
local hit_status = {hit_status}
local hit_type = {json.dumps(hit_type) if hit_type else "nil"}
local event_ids = {"true" if event_ids else "false"}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  counter = (id or 1) * 7919
  nonce = args[3] or ""
  hits, other, sent, tail_sent = 0, 0, 0, 0
  started = now()
  switch_at = started + tonumber(args[1]) - tonumber(args[2])
  window = 0
end

function request()
  local t = now()
  if t >= switch_at then
    if window == 0 then window = t - started end
    tail_sent = tail_sent + 1
    return wrk.format("GET", "/healthz")
  end
  counter = counter + 1
  sent = sent + 1
  local path = paths[(counter % #paths) + 1]
  if event_ids then path = path .. nonce .. "-" .. (id or 1) .. "-" .. sent end
  return wrk.format("GET", path, {{["User-Agent"] = agents[(counter % #agents) + 1]}})
end

function response(status, headers, body)
  if status == hit_status and (hit_type == nil or headers["Content-Type"] == hit_type) then hits = hits + 1
  elseif status ~= 200 then other = other + 1 end
end

function done(summary, latency, requests)
  local h, o, s, ts_, w = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    h = h + t:get("hits"); o = o + t:get("other"); s = s + t:get("sent"); ts_ = ts_ + t:get("tail_sent")
    w = w + t:get("window")
  end
  io.write(string.format("BENCH hits=%d other=%d sent=%d tail=%d window=%.3f\\n", h, o, s, ts_, w / #threads))
end
"""


def run_wrk(label: str, port: int, script: Path, seconds: int, threads: int, connections: int,
            background: bool = False):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
           "-s", str(script), f"http://{HOST}:{port}/", "--", str(seconds), str(TAIL_SECONDS), uuid.uuid4().hex[:12]]
    if background:
        return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    return parse_wrk(label, out)


def print_wrk(r: WrkResult) -> None:
    lat = r.latency_ms
    print(f"  {r.label:<26} {r.hits_302:>9,} hits in {r.window:6.1f} s  {r.rps:>7,.0f} hits/s (wrk {r.wrk_rps:,.0f} "
          f"req/s incl. {r.tail:,} tail /healthz)  "
          f"latency avg {lat['avg']:.2f} p50 {lat.get('50', float('nan')):.2f} p90 {lat.get('90', float('nan')):.2f} "
          f"p99 {lat.get('99', float('nan')):.2f} max {lat['max']:.2f} ms  | hits written {r.sent:,}, other status "
          f"{r.other_status:,}, non-2xx/3xx {r.non_2xx_3xx}, socket errors: {r.socket_errors}",
          flush=True)
