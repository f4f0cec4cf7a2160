"""The Account page's email address, and the opt-in notices: a link was downloaded, files arrived through an
upload request. One notice per link per window however busy; a mail server that is down fails nothing."""
import pytest

from app.extensions import db
from app.models import File, FileStatus, Share, User
from app.services import account_email, mail
from tests.conftest import csrf_from
from tests.helpers import path, share, upload, visit_and_download
from tests.mail_support import body_of, free_port
from tests.test_file_requests import Guest, make_request
from tests.test_file_requests import path as request_path

DATA = b"quarterly report\n" * 50


def account_page(client):
    return client.get("/account").get_data(as_text=True)


def post_email(client, email):
    return client.post("/account/email", data={"csrf_token": csrf_from(account_page(client)), "email": email})


def post_notices(client, **choices):
    data = {"csrf_token": csrf_from(account_page(client))}
    data.update({name: "y" for name, on in choices.items() if on})
    return client.post("/account/notices", data=data)


def test_the_account_page_sets_checks_and_clears_the_address(app, accounts):
    client, user = accounts.signed_in_client()
    other, _ = accounts.signed_in_client()
    page = account_page(client)
    assert 'for="email">Email address</label>' in page and "Notices by email" in page
    assert post_email(client, "  Olga@Example.ORG ").status_code == 302
    assert "Your email address is now olga@example.org." in account_page(client)
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "olga@example.org"

    post_email(other, "OLGA@example.org")
    assert "Another account already uses that email address." in account_page(other)
    post_email(other, "not an address")
    assert "That is not an email address" in account_page(other)
    assert db.session.execute(db.select(db.func.count(User.id)).filter(User.email.is_not(None))).scalar() == 1

    post_email(client, "")
    assert "Your email address is removed." in account_page(client)
    db.session.expire_all()
    assert db.session.get(User, user.id).email is None


def test_the_notices_are_opt_in_and_saved(app, accounts):
    client, user = accounts.signed_in_client()
    assert not user.notify_downloads and not user.notify_deliveries
    post_notices(client, notify_downloads=True)
    assert "add an email address" in account_page(client)
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert saved.notify_downloads and not saved.notify_deliveries
    assert 'id="notify_downloads" name="notify_downloads" type="checkbox" value="y"' in account_page(client)
    post_notices(client, notify_deliveries=True)
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert not saved.notify_downloads and saved.notify_deliveries


@pytest.fixture
def mail_app(make_app, smtp_server):
    app = make_app(**smtp_server.settings, STORAGE_BACKEND="local")
    with app.app_context():
        yield app


def owner_with_notices(accounts, email, downloads=True, deliveries=True):
    user = accounts.create()
    account_email.set_email(user, email)
    account_email.set_notices(user, downloads, deliveries)
    return user, accounts.headers(user)


def settled_inbox(smtp_server):
    assert mail.wait_until_sent(10)
    return list(smtp_server.inbox.messages)


def test_a_burst_of_downloads_makes_one_notice_per_link(mail_app, smtp_server, accounts):
    owner, headers = owner_with_notices(accounts, "pia@example.test")
    client = mail_app.test_client()
    report = upload(client, headers, "report.pdf", DATA)
    first = share(client, headers, report)
    for _ in range(3):
        _, download = visit_and_download(mail_app, path(first))
        assert download.status_code == 302
    second = share(client, headers, upload(client, headers, "slides.pdf", DATA))
    visit_and_download(mail_app, path(second))
    messages = settled_inbox(smtp_server)
    assert [message["Subject"] for message in messages] == ["Downloaded: report.pdf", "Downloaded: slides.pdf"]
    assert all(message["To"] == "pia@example.test" for message in messages)
    assert "downloaded once in all" in body_of(messages[0]) and "/account" in body_of(messages[0])
    assert db.session.execute(db.select(Share.download_count).filter_by(public_id=first["id"])).scalar() == 3


def test_no_notice_without_opting_in_or_without_an_address(mail_app, smtp_server, accounts):
    quiet, quiet_headers = owner_with_notices(accounts, "quinn@example.test", downloads=False)
    no_address = accounts.create()
    account_email.set_notices(no_address, True, True)
    client = mail_app.test_client()
    for headers in (quiet_headers, accounts.headers(no_address)):
        link = share(client, headers, upload(client, headers, "a.txt", DATA))
        assert visit_and_download(mail_app, path(link))[1].status_code == 302
    assert settled_inbox(smtp_server) == []


def test_files_arriving_through_a_request_make_one_notice(mail_app, smtp_server, accounts):
    owner, headers = owner_with_notices(accounts, "rui@example.test", downloads=False)
    client = mail_app.test_client()
    guest = Guest(mail_app, request_path(make_request(client, headers)))
    guest.open()
    guest.upload("passport.pdf", DATA, guest_name="Sam")
    guest.upload("visa.pdf", DATA, guest_name="Sam")
    [message] = settled_inbox(smtp_server)
    assert message["To"] == "rui@example.test" and message["Subject"] == "Files arrived: Documents for the visa"
    assert "Sam sent passport.pdf" in body_of(message)
    # The owner's own uploads are not "arrivals".
    upload(client, headers, "mine.pdf", DATA)
    assert len(settled_inbox(smtp_server)) == 1


def test_a_mail_server_that_is_down_fails_no_download_or_upload(make_app, accounts):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SECURITY="none", PUBLIC_URL="http://localhost", MAIL_TIMEOUT=2,
                   STORAGE_BACKEND="local")
    with app.app_context():
        owner, headers = owner_with_notices(accounts, "sol@example.test")
        client = app.test_client()
        link = share(client, headers, upload(client, headers, "report.pdf", DATA))
        page, download = visit_and_download(app, path(link))
        assert page.status_code == 200 and download.status_code == 302
        guest = Guest(app, request_path(make_request(client, headers)))
        guest.open()
        arrived = guest.upload("scan.pdf", DATA, guest_name="Tom")
        assert db.session.execute(db.select(File.status).filter_by(public_id=arrived["id"])).scalar() == \
            FileStatus.READY
        assert mail.wait_until_sent(10)


def test_a_rate_limit_store_that_is_down_sends_no_notice_and_fails_nothing(mail_app, smtp_server, accounts,
                                                                           monkeypatch):
    from app.errors import Unavailable
    from app.auth import limits

    owner, headers = owner_with_notices(accounts, "uma@example.test")
    client = mail_app.test_client()
    link = share(client, headers, upload(client, headers, "report.pdf", DATA))

    def down(*args, **kwargs):
        raise Unavailable("down", code="limits_unavailable")

    monkeypatch.setattr(limits, "storage_call", down)
    assert visit_and_download(mail_app, path(link))[1].status_code == 302
    assert settled_inbox(smtp_server) == []
