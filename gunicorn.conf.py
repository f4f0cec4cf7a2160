"""Gunicorn settings for Locker: `make run`, bench/transfer.py and production pass this file with -c."""
from gunicorn.http.unreader import SocketUnreader

# gunicorn receives a request body up to 1 MiB per recv() and passes it to the application
# through two buffers of its own, copying whatever a read did not take yet; four 16 MiB parts
# arriving at once held about 20 MiB there. Receiving in the pieces local storage reads
# (its CHUNK_SIZE) hands each piece on whole, a few hundred KiB per upload. The number is
# written here, not imported: importing the app would load it into the master process, and
# workers forked after a reload (HUP) would run that old code. tests/test_config.py checks
# that the two agree and that the pinned gunicorn still reads this attribute.
SocketUnreader.max_body_chunk = 128 * 1024


import os as _os  # noqa: E402  (underscored: gunicorn reads this module's plain names as settings)
import shutil as _shutil  # noqa: E402
import tempfile as _tempfile  # noqa: E402


def _setting(name):
    """A setting as config.py reads it (the environment, else .env), without importing Locker here."""
    from dotenv import dotenv_values
    return _os.environ.get(name) or dotenv_values(_os.path.join(_os.path.dirname(__file__), ".env")).get(name) or ""


# Metrics from every worker (app/metrics.py): each worker writes its counters to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics adds them up. The variable must be set before any
# worker imports prometheus_client, so it is set here, in the master; prometheus_client itself
# is imported only inside the hooks (by then the variable is set). A folder made here is
# removed on exit; one the operator names is emptied at start, as prometheus_client asks.
if _setting("PROMETHEUS_MULTIPROC_DIR"):
    _os.environ["PROMETHEUS_MULTIPROC_DIR"] = _setting("PROMETHEUS_MULTIPROC_DIR")
else:
    _os.environ["PROMETHEUS_MULTIPROC_DIR"] = _tempfile.mkdtemp(prefix="locker-metrics-")
    _os.environ["LOCKER_MADE_METRICS_DIR"] = "1"


def on_starting(server):
    folder = _os.environ["PROMETHEUS_MULTIPROC_DIR"]
    _os.makedirs(folder, exist_ok=True)
    for name in _os.listdir(folder):
        if name.endswith(".db"):
            _os.remove(_os.path.join(folder, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _os.environ.get("LOCKER_MADE_METRICS_DIR"):
        _shutil.rmtree(_os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# Log lines (app/logs.py): each worker, once it has loaded the app, has gunicorn's error and access
# lines name their request and leave secrets out, as JSON with LOG_FORMAT=json. The master's own
# lines are formatted by python-json-logger directly then, with the fields of app.logs.JSON_FIELDS.
def post_worker_init(worker):
    if hasattr(worker.wsgi, "config"):  # else the app failed to load, and gunicorn serves the error
        from app.logs import take_over_gunicorn_logs
        take_over_gunicorn_logs(worker.log, worker.wsgi)


if _setting("LOG_FORMAT").lower() == "json":
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
