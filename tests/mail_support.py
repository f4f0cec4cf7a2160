"""A real SMTP server (aiosmtpd) on a free loopback port, keeping every message it receives."""
import email
import email.policy
import re
import socket
import threading
import time

from aiosmtpd.controller import Controller



def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd's handler: every message received, parsed, in order."""

    def __init__(self):
        self.messages = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count=1, timeout=10):
        """The first `count` messages, waiting up to `timeout` seconds for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
                self._arrived.wait(left)
            return list(self.messages[:count])

    def to(self, address):
        return [message for message in self.messages if message["To"] == address]


def body_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path_prefix):
    """The first URL in the message's body whose path starts with path_prefix."""
    match = re.search(r"https?://[^\s/]+(" + re.escape(path_prefix) + r"[^\s]*)", body_of(message))
    assert match, body_of(message)
    return match.group(1)


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def settings(self):
        """App settings that send mail here."""
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_SECURITY": "none",
                "MAIL_FROM": "Locker <locker@example.test>", "MAIL_TIMEOUT": 5, "PUBLIC_URL": "http://localhost"}

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
