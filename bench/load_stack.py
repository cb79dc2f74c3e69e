"""The whole stack bench_load.py runs on loopback and can break on purpose: its own PostgreSQL cluster (initdb,
pg_ctl), its own AOF Redis (local_servers.OwnRedis), gunicorn, RQ workers and the scheduler as the README starts
them; each started in its own session, each stopped with a bounded wait."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from local_servers import HOST, ROOT, Gunicorn, OwnRedis, free_port, port_open

PG_BIN_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin")
PYTHON = sys.executable
FLASK = str(Path(sys.executable).parent / "flask")


def pg_binary(name: str) -> str:
    for d in PG_BIN_DIRS:
        if os.access(Path(d) / name, os.X_OK):
            return str(Path(d) / name)
    raise RuntimeError(f"{name} not found in {', '.join(PG_BIN_DIRS)}")


class OwnPostgres:
    """A throwaway cluster in `workdir` on a free port (trust auth, user postgres). PostgreSQL refuses to run as
    root, so as root its commands run as the `postgres` system user, which then owns `workdir`."""

    def __init__(self, workdir: Path):
        self.workdir, self.port = workdir, free_port()
        self.data, self.log = workdir / "data", workdir / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            workdir.mkdir(parents=True, exist_ok=True)
            os.chown(workdir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.initialised = False

    @property
    def server(self) -> str:
        return f"postgres@{HOST}:{self.port}"

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://{self.server}/{name}"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        res = subprocess.run(self.as_user + list(cmd), capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed ({res.returncode}): {(res.stderr or res.stdout)[-800:]}")

    def init(self) -> None:
        self._run(pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        self.initialised = True
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '{HOST}'\nunix_socket_directories = "
                       f"'{self.workdir}'\nmax_connections = 200\nshared_buffers = 256MB\n")

    def start(self) -> float:
        """Start and wait until it accepts connections; the seconds it took."""
        started = time.monotonic()
        if port_open(self.port):
            raise RuntimeError(f"something already listens on {HOST}:{self.port}")
        self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start",
                  timeout=90)
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> None:
        if self.initialised and (self.data / "postmaster.pid").exists():
            self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def stop_quietly(self) -> None:
        try:
            self.stop("fast")
        except Exception as exc:  # noqa: BLE001 - cleanup: try harder, then report
            print(f"  pg_ctl stop -m fast failed ({exc}); trying immediate", flush=True)
            try:
                self.stop("immediate")
            except Exception as exc2:  # noqa: BLE001
                print(f"  pg_ctl stop -m immediate failed too: {exc2}", flush=True)


class Process:
    """One product process (a worker, the scheduler) in its own session, logging to a file."""

    def __init__(self, label: str, cmd: list[str], env: dict, log_dir: Path):
        self.label, self.cmd, self.env = label, cmd, env
        self.log_path = log_dir / f"{label}.log"
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True,
                             timeout=10)
        return [int(p) for p in out.stdout.split()]

    def kill_hard(self) -> list[int]:
        """SIGKILL to the process, its session and its children (an RQ work horse calls setsid, so it has a session
        of its own): a crash of the whole worker. Returns the children's pids killed."""
        children = []
        if self.proc is not None and self.proc.poll() is None:
            children = self.children()
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        return children

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_hard()
        except ProcessLookupError:
            pass


class Stack:
    """PostgreSQL, Redis, gunicorn, 2 workers and the scheduler, with the environment the README documents."""

    def __init__(self, tmp: Path, pg: OwnPostgres, db_name: str, extra_env: dict | None = None,
                 web_threads: int = 1, prefix_pool: bool = False):
        self.tmp, self.pg, self.db_name = tmp, pg, db_name
        self.web_threads, self.prefix_pool = web_threads, prefix_pool
        self.redis = OwnRedis(free_port(), tmp / "redis")
        self.instance = tmp / "instance"
        self.instance.mkdir(exist_ok=True)
        self.env = dict(os.environ)
        self.env.pop("TRUSTED_PROXIES", None)
        self.env.update(DATABASE_URL=pg.url(db_name), REDIS_URL=f"redis://{HOST}:{self.redis.port}/0",
                        SECRET_KEY="bench-secret-key-0123456789", INSTANCE_PATH=str(self.instance),
                        LOG_LEVEL="WARNING", PUBLIC_BASE_URL=f"http://{HOST}",
                        # 30 simulated users sign in from one address within a minute (the default allows 30/minute)
                        LOGIN_RATE_LIMIT_IP="1000/minute",
                        TRUSTED_PROXIES=HOST,  # the prefix load sends each hit from its own X-Forwarded-For address
                        **(extra_env or {}))
        self.web: Gunicorn | None = None
        self.prefix: Gunicorn | None = None  # with prefix_pool: the same app in its own gunicorn, for /e/ only
        self.workers = [Process(f"worker{i + 1}", [PYTHON, "-m", "jobs.worker"], self.env, tmp) for i in range(2)]
        self.scheduler = Process("scheduler", [PYTHON, "-m", "jobs.scheduler"], self.env, tmp)

    def migrate(self) -> None:
        res = subprocess.run([FLASK, "--app", "app", "db", "upgrade"], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=300)
        if res.returncode != 0:
            raise RuntimeError(f"flask db upgrade failed: {res.stderr[-800:]}")

    def start(self) -> None:
        self.redis.start()
        self.web = Gunicorn("web", "app:create_app()", self.env, self.tmp, threads=self.web_threads)
        if self.prefix_pool:
            self.prefix = Gunicorn("prefix", "app:create_app()", self.env, self.tmp, threads=self.web_threads)
        for proc in self.workers + [self.scheduler]:
            proc.start()
        self.web.wait_ready()
        if self.prefix is not None:
            self.prefix.wait_ready()

    @property
    def prefix_port(self) -> int:
        """Where the prefix traffic goes: its own pool when there is one, else the web's."""
        return (self.prefix or self.web).port

    def processes(self) -> list[Process]:
        return self.workers + [self.scheduler]

    def revive(self) -> list[str]:
        """Restart any worker or scheduler that has exited; the labels restarted (a finding when not empty)."""
        dead = [(p, p.proc.returncode if p.proc else None) for p in self.processes() if not p.alive()]
        for p, _ in dead:
            p.restarts += 1
            p.start()
        return [f"{p.label} (exit status {code})" for p, code in dead]

    def stop(self) -> None:
        for proc in self.processes():
            try:
                proc.stop()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                print(f"  stopping {proc.label} failed: {exc}", flush=True)
        for web in (self.web, self.prefix):
            if web is None:
                continue
            try:
                web.stop()
            except Exception as exc:  # noqa: BLE001
                print(f"  stopping gunicorn {web.label} failed: {exc}", flush=True)
        try:
            self.redis.stop()
        except Exception as exc:  # noqa: BLE001
            print(f"  stopping redis failed: {exc}", flush=True)


def keep_logs(tmp: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for log in list(tmp.glob("*.log")) + [tmp / "redis" / "redis.log", tmp / "pg" / "postgres.log"]:
        if log.exists():
            shutil.copy(log, dest / log.name)
