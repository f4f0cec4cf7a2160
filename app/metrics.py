"""Prometheus metrics, served at /metrics to whoever holds METRICS_TOKEN (nobody, when it is unset).

Requests are counted and timed by the Flask endpoint name (prometheus-flask-exporter),
never by the path, which holds ids and link tokens. Uploads and storage calls are
counted here, where the upload service and the storage layer report them.

Under gunicorn with several workers each worker writes its numbers to files in
PROMETHEUS_MULTIPROC_DIR (set up by gunicorn.conf.py) and whichever worker answers
/metrics adds them all up; without it, a process counts in memory.
"""
import functools
import hmac

from flask import current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

from app.errors import NotFound, Unauthorized

# Registered in each app's own registry (see init_app), so tests can build many apps in one process.
UPLOADS_STARTED = Counter("locker_uploads_started_total", "Uploads started: space reserved, bytes not yet sent",
                          registry=None)
UPLOADS_COMPLETED = Counter("locker_uploads_completed_total", "Uploads completed and listed as files",
                            registry=None)
UPLOADS_FAILED = Counter("locker_uploads_failed_total", "Upload starts or completions that failed, by error code",
                         ["reason"], registry=None)
BYTES_ADMITTED = Counter("locker_upload_bytes_admitted_total", "Bytes of completed uploads, admitted as files",
                         registry=None)
STORAGE_CALLS = Histogram("locker_storage_call_duration_seconds", "Calls to storage and how long they took",
                          ["operation"], registry=None)
STORAGE_ERRORS = Counter("locker_storage_call_errors_total", "Calls to storage that failed (not refusals of "
                         "what a client sent)", ["operation"], registry=None)
LOCKER_METRICS = (UPLOADS_STARTED, UPLOADS_COMPLETED, UPLOADS_FAILED, BYTES_ADMITTED, STORAGE_CALLS, STORAGE_ERRORS)


def upload_started(count=1):
    UPLOADS_STARTED.inc(count)


def upload_completed(size):
    UPLOADS_COMPLETED.inc()
    BYTES_ADMITTED.inc(size)


def upload_failed(reason):
    """`reason` is the error's code (size_mismatch, storage_unavailable, …): a short, fixed set."""
    UPLOADS_FAILED.labels(reason=reason).inc()


def require_metrics_token(view):
    """/metrics answers only a request bearing METRICS_TOKEN; with no token set it does not exist."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = current_app.config.get("METRICS_TOKEN")
        if not expected:
            raise NotFound("Metrics are off: set METRICS_TOKEN to serve them.")
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {expected}".encode()):
            raise Unauthorized("Send Authorization: Bearer <METRICS_TOKEN>.")
        return view(*args, **kwargs)
    return guarded


def init_app(app):
    registry = CollectorRegistry()
    for metric in LOCKER_METRICS:
        registry.register(metric)
    app.extensions["locker.metrics"] = PrometheusMetrics(
        app, path="/metrics", registry=registry, group_by="endpoint", defaults_prefix="locker",
        metrics_decorator=require_metrics_token)
