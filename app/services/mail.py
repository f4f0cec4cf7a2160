"""Email, sent from a background thread so that no request waits for (or fails with) a mail server.

`send` only puts the message on this process's outbox; one daemon thread per process (made again
after a fork, as gunicorn's workers are) hands it to the SMTP server named by the MAIL_* settings.
A message the server refuses, or that cannot reach it, is logged and dropped: what mail carries
here (reset links, invitations, notices) can always be asked for again.
"""
import logging
import os
import queue
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

log = logging.getLogger(__name__)

# Far more than a burst of notices makes; past it messages are dropped (and logged) rather than
# letting a dead mail server grow the process without bound.
OUTBOX_SIZE = 1000


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    timeout: float


def is_configured():
    return bool(current_app.config.get("MAIL_SERVER"))


def server_from_config(config):
    return Server(config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_SECURITY"], config["MAIL_USERNAME"],
                  config["MAIL_PASSWORD"], config["MAIL_TIMEOUT"])


def send(to, subject, body):
    """Queue a plain-text message to `to`; False when mail is not configured or the outbox is full."""
    if not is_configured() or not to:
        return False
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="locker")
    message.set_content(body)
    try:
        outbox().put_nowait((server_from_config(current_app.config), message))
    except queue.Full:
        log.error("Mail outbox full; not sending %r to %s", subject, to)
        return False
    return True


_outbox = None
_outbox_pid = None
_outbox_lock = threading.Lock()


def outbox():
    """This process's queue, with its sending thread started on first use (and again after a fork)."""
    global _outbox, _outbox_pid
    with _outbox_lock:
        if _outbox is None or _outbox_pid != os.getpid():
            _outbox, _outbox_pid = queue.Queue(OUTBOX_SIZE), os.getpid()
            threading.Thread(target=deliver_forever, args=(_outbox,), name="locker-mail", daemon=True).start()
        return _outbox


def deliver_forever(messages):
    while True:
        server, message = messages.get()
        try:
            deliver(server, message)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("Could not send %r to %s: %s", message["Subject"], message["To"], error)
        finally:
            messages.task_done()


def deliver(server, message):
    if server.security == "ssl":
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                      context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    with connection:
        if server.security == "starttls":
            connection.starttls(context=ssl.create_default_context())
        if server.username:
            connection.login(server.username, server.password or "")
        connection.send_message(message)


def wait_until_sent(timeout=10):
    """Block until the outbox is empty (for tests and for commands that exit right after sending)."""
    messages = _outbox if _outbox_pid == os.getpid() else None
    if messages is None:
        return True
    done = threading.Event()
    threading.Thread(target=lambda: (messages.join(), done.set()), daemon=True).start()
    return done.wait(timeout)
