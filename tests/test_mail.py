"""Mail leaves from a background thread: a real SMTP server receives it, a dead one fails nothing."""
import time

from app.services import mail
from tests.mail_support import body_of, free_port


def test_a_message_reaches_the_smtp_server(make_app, smtp_server):
    app = make_app(**smtp_server.settings)
    with app.app_context():
        assert mail.send("ann@example.test", "Hello", "Your files arrived.")
    [message] = smtp_server.inbox.wait_for(1)
    assert message["To"] == "ann@example.test"
    assert message["From"] == "Locker <locker@example.test>"
    assert message["Subject"] == "Hello"
    assert body_of(message).strip() == "Your files arrived."


def test_sending_returns_at_once_and_a_down_server_fails_nothing(make_app, smtp_server):
    dead = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SECURITY="none", PUBLIC_URL="http://localhost", MAIL_TIMEOUT=5)
    with dead.app_context():
        started = time.monotonic()
        assert mail.send("ann@example.test", "Lost", "Nobody is listening.")
        assert time.monotonic() - started < 0.5
        assert mail.wait_until_sent(10)
    # The sending thread lives on after the failure and delivers the next message.
    alive = make_app(**smtp_server.settings)
    with alive.app_context():
        assert mail.send("bob@example.test", "Found", "This one arrives.")
    [message] = smtp_server.inbox.wait_for(1)
    assert message["Subject"] == "Found"


def test_without_mail_settings_nothing_is_queued(make_app):
    app = make_app()
    with app.app_context():
        assert not mail.is_configured()
        assert mail.send("ann@example.test", "Hello", "text") is False
