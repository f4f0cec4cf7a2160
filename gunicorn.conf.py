"""Gunicorn settings for Locker: production (systemd, deploy/entrypoint.sh) reads them as they are;
`make run` and bench/transfer.py pass this file too, with command-line flags that take precedence.

Each setting can be changed through the environment (GUNICORN_*), e.g. in the EnvironmentFile.
"""
import os
import shutil
import tempfile
from pathlib import Path

from dotenv import load_dotenv
from gunicorn.http.unreader import SocketUnreader

# The same .env Locker reads (config.py), so GUNICORN_* there count too; the environment wins.
load_dotenv(Path(__file__).resolve().parent / ".env")

# gunicorn receives a request body up to 1 MiB per recv() and passes it to the application
# through two buffers of its own, copying whatever a read did not take yet; four 16 MiB parts
# arriving at once held about 20 MiB there. Receiving in the pieces local storage reads
# (its CHUNK_SIZE) hands each piece on whole, a few hundred KiB per upload. The number is
# written here, not imported: importing the app would load it into the master process, and
# workers forked after a reload (HUP) would run that old code. tests/test_config.py checks
# that the two agree and that the pinned gunicorn still reads this attribute.
SocketUnreader.max_body_chunk = 128 * 1024

MAX_DEFAULT_WORKERS = 8


def default_workers(cores):
    """2 x cores + 1 (gunicorn's advice), capped: more than 8 mostly adds database connections."""
    return min(2 * cores + 1, MAX_DEFAULT_WORKERS)


# Empty counts as unset, like the other GUNICORN_* numbers (an example file may leave it blank).
bind = (os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000").split(",")
workers = int(os.environ.get("GUNICORN_WORKERS") or default_workers(os.cpu_count() or 1))
# Threads: a request mostly waits on the database or (local storage) the client's bytes.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# The app is loaded in each worker, not the master, so `kill -HUP` (systemctl reload) starts workers
# on the new code and settings while the old ones finish their requests.
preload_app = False
# With gthread a worker's heartbeat does not wait for requests, so a long upload through local storage
# is never cut by `timeout`; it only catches a worker that hangs as a whole.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# On reload or stop, requests in flight (an upload to local storage among them) get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "120"))
# Longer than the proxy keeps an idle upstream connection (nginx: 60 s), so the proxy closes it first
# and never sends a request on a connection gunicorn is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Only these addresses may say the request came over https (X-Forwarded-Proto): the proxy's.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The heartbeat file in memory: a slow or read-only disk (ProtectSystem=strict) never stalls it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# No query string: signed URLs carry their signature there.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
# gunicorn's control socket has one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn), which every Locker
# on the host (several instances, make run beside a service) would claim in turn; Locker is reloaded
# with HUP and needs no gunicornc.
control_socket_disable = True


def tell_workers_their_number(server):
    # The app reads these (config WORKER_PROCESSES, WORKER_THREADS): to refuse per-worker rate limits in
    # production, and to keep a database connection for each thread.
    os.environ["LOCKER_WORKER_PROCESSES"] = str(server.cfg.workers)
    os.environ["LOCKER_WORKER_THREADS"] = str(server.cfg.threads)


# Metrics from every worker (app/metrics.py): each worker writes its counters to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics adds them up. The variable must be set before any
# worker imports prometheus_client, so it is set here, in the master; prometheus_client itself
# is imported only inside the hooks (by then the variable is set). A folder made here is
# removed on exit; one the operator names is emptied at start, as prometheus_client asks.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="locker-metrics-")
    os.environ["LOCKER_MADE_METRICS_DIR"] = "1"


def empty_metrics_folder():
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def on_starting(server):
    tell_workers_their_number(server)
    empty_metrics_folder()


on_reload = tell_workers_their_number


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("LOCKER_MADE_METRICS_DIR"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# Log lines (app/logs.py): each worker, once it has loaded the app, has gunicorn's error and access
# lines name their request and leave secrets out, as JSON with LOG_FORMAT=json. The master's own
# lines are formatted by python-json-logger directly then, with the fields of app.logs.JSON_FIELDS.
def post_worker_init(worker):
    if hasattr(worker.wsgi, "config"):  # else the app failed to load, and gunicorn serves the error
        from app.logs import take_over_gunicorn_logs
        take_over_gunicorn_logs(worker.log, worker.wsgi)


if os.environ.get("LOG_FORMAT", "").lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter",
                                "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger",
                                                  "process": "pid"}}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
                    "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False}},
    }
