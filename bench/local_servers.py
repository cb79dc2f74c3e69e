"""The processes and ports the prefix benchmarks start and probe on loopback: gunicorn serving an app, and a throwaway
redis-server with AOF that can be SIGKILLed and restarted (bench_prefix.py, bench_hit_durability.py)."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def get(port: int, path: str, headers: dict | None = None, timeout: float = 5.0) -> tuple[int, dict, float]:
    """One request on a fresh connection: (status, headers, seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders()), time.perf_counter() - started
    finally:
        conn.close()


class Gunicorn:
    def __init__(self, label: str, app: str, env: dict, log_dir: Path, pythonpath: str | None = None,
                 workers: int = 2, threads: int = 1):
        self.label, self.port = label, free_port()
        self.log = open(log_dir / f"gunicorn-{label}-{self.port}.log", "w")
        cmd = [GUNICORN, "--no-control-socket", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "-w", str(workers),
               "-b", f"{HOST}:{self.port}"]
        if threads > 1:  # gthread workers: a request waiting on the database does not hold the whole process
            cmd += ["--threads", str(threads)]
        if pythonpath:
            cmd += ["--pythonpath", pythonpath]
        cmd.append(app)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {self.label} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if get(self.port, "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn {self.label} not ready after {timeout} s; see {self.log.name}")

    def worker_pids(self) -> list[int]:
        try:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
            return [int(p) for p in out.stdout.split()]
        except Exception:
            return []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: the master and its workers only
                self.proc.wait(timeout=10)
        self.log.close()


class OwnRedis:
    """A throwaway redis-server on its own port with AOF on, killed hard and restarted from the same directory;
    refuses a port somebody else already uses. `fsync`: appendfsync (the README says everysec)."""

    def __init__(self, port: int, workdir: Path, fsync: str = "everysec"):
        if port_open(port):
            raise RuntimeError(f"something already listens on {HOST}:{port}; not ours, pick another --redis-port")
        self.port, self.workdir, self.fsync, self.pid = port, workdir, fsync, None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def client(self) -> redis.Redis:
        """A fresh client each time: connections pooled before a shutdown would fail their first command."""
        return redis.Redis(host=HOST, port=self.port, socket_timeout=5)

    def start(self) -> None:
        # As the README says to run it: AOF on (no RDB snapshots).
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "yes",
                        "--appendfsync", self.fsync, "--daemonize", "yes", "--dir", str(self.workdir),
                        "--logfile", str(self.workdir / "redis.log")], check=True, capture_output=True, timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if not self.client.info("persistence").get("loading"):
                    self.pid = int(self.client.info("server")["process_id"])
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis on {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: a crash (no shutdown, no final fsync); the restart replays the AOF."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.pid = None

    def shutdown_nosave(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        if port_open(self.port):
            self.shutdown_nosave()
        if self.pid and port_open(self.port):
            os.kill(self.pid, signal.SIGKILL)
