"""The baseline of bench/api.py: Flask answering {"ok": true}, with nothing else, under Locker's gunicorn settings."""
from flask import Flask

app = Flask(__name__)
# gunicorn.conf.py gives a worker's log lines the app's LOG_FORMAT, so the baseline writes the same access lines.
app.config["LOG_FORMAT"] = "text"


@app.get("/")
def ok():
    return {"ok": True}
