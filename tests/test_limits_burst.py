"""Rate limits under bursts of parallel requests, on memory and Redis counters, against a live threaded server.

A guess is counted before it is checked, so however many arrive at once, no more than the limit
are checked; a right password is given back; one address cannot lock a link's recipient out.
Addresses come from X-Forwarded-For (TRUST_PROXY), each test's own, so runs never share a
Redis counter (they expire within the day). Limits are per hour, not per minute: limits' fixed
window starts afresh at each minute, so a burst crossing one would see up to twice the limit.
"""
import random
import re
import threading
import uuid
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from app.auth.limits import REDIS_TIMEOUT_SECONDS, Budget, Spent, give_back, spend, storage_call
from app.extensions import db
from app.formatting import wait_in_words
from app.models import AuditEvent, File, User
from tests.conftest import PASSWORD, csrf_from
from tests.fault_support import MUTE, PASS, proxy_to  # noqa: F401 (a fixture)
from tests.helpers import at_once, path, share, upload
from tests.live_support import start_live

REDIS = "redis://127.0.0.1:6379/0"
BURST = 30


@pytest.fixture(params=["memory", "redis"])
def counters(request):
    return {"memory": "memory://", "redis": REDIS}[request.param]


def new_address():
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def start(request, make_app, counters, **limits):
    return start_live(request, make_app, "local", RATELIMIT_STORAGE_URI=counters, TRUST_PROXY=True, **limits)


def burst(count, send):
    """send(number) from `count` threads released at once; the responses."""
    def work(number, go):
        go.wait()
        return send(number)
    return at_once(count, work)


def statuses(responses):
    return sorted(response.status_code for response in responses)


def api_sign_in(live, username, password, address):
    return requests.post(f"{live.url}/api/v1/auth/token", json={"username": username, "password": password},
                         headers={"X-Forwarded-For": address}, timeout=60)


def failed_sign_ins(live, username):
    with live.app.app_context():
        return db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter_by(
            action="sign_in_failed", actor_name=username)).scalar_one()


def test_a_burst_of_wrong_passwords_for_one_account_gets_only_the_limit_checked(request, make_app, counters):
    live = start(request, make_app, counters, LOGIN_LIMIT_PER_ACCOUNT="5 per hour",
                 LOGIN_LIMIT_PER_ADDRESS="1000 per hour")
    username, _ = live.user()
    responses = burst(BURST, lambda number: api_sign_in(live, username, "wrong password", new_address()))
    assert statuses(responses) == [401] * 5 + [429] * (BURST - 5)
    assert failed_sign_ins(live, username) == 5
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    # The right password now waits too, from any address, and is not even checked.
    late = api_sign_in(live, username, PASSWORD, new_address())
    assert late.status_code == 429 and late.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(late.headers["Retry-After"]) <= 3600


def test_a_burst_from_one_address_gets_only_its_limit_checked(request, make_app, counters):
    live = start(request, make_app, counters, LOGIN_LIMIT_PER_ACCOUNT="1000 per hour",
                 LOGIN_LIMIT_PER_ADDRESS="20 per hour")
    address, names = new_address(), [f"nobody{uuid.uuid4().hex[:10]}" for _ in range(40)]
    responses = burst(40, lambda number: api_sign_in(live, names[number], "wrong password", address))
    assert statuses(responses) == [401] * 20 + [429] * 20
    assert sum(failed_sign_ins(live, name) for name in names) == 20
    # Another address is not held back.
    username, _ = live.user()
    assert api_sign_in(live, username, PASSWORD, new_address()).status_code == 201


def test_right_passwords_never_use_up_the_allowance(request, make_app, counters):
    live = start(request, make_app, counters, LOGIN_LIMIT_PER_ACCOUNT="3 per hour",
                 LOGIN_LIMIT_PER_ADDRESS="3 per hour")
    username, _ = live.user()
    address = new_address()
    # One after another: a guess in flight holds its place until checked, so parallel ones over the limit wait.
    assert [api_sign_in(live, username, PASSWORD, address).status_code for _ in range(10)] == [201] * 10
    # The whole budget of failures is still there for the person who then mistypes.
    responses = burst(10, lambda number: api_sign_in(live, username, "wrong password", address))
    assert statuses(responses) == [401] * 3 + [429] * 7


class Browser:
    """A requests session that speaks for one address and holds the CSRF token of the page it opened."""

    def __init__(self, live, address):
        self.live, self.session = live, requests.Session()
        self.session.headers["X-Forwarded-For"] = address

    def open(self, page):
        response = self.session.get(self.live.url + page, timeout=60)
        self.csrf = csrf_from(response.text)
        return response

    def post(self, page, **data):
        return self.session.post(self.live.url + page, data={"csrf_token": self.csrf, **data},
                                 allow_redirects=False, timeout=60)


def test_the_login_page_counts_a_burst_and_says_why_it_waits(request, make_app, counters):
    live = start(request, make_app, counters, LOGIN_LIMIT_PER_ACCOUNT="5 per hour",
                 LOGIN_LIMIT_PER_ADDRESS="1000 per hour")
    username, _ = live.user()
    browsers = [Browser(live, new_address()) for _ in range(BURST)]
    for browser in browsers:
        browser.open("/login")
    responses = burst(BURST, lambda number: browsers[number].post("/login", username=username,
                                                                   password="wrong password"))
    # A wrong password shows the form again (401); a refused one goes back to the form with the reason.
    assert statuses(responses) == [302] * (BURST - 5) + [401] * 5
    late = Browser(live, new_address())
    late.open("/login")
    refused = late.post("/login", username=username, password=PASSWORD)
    assert refused.status_code == 302 and refused.headers["Retry-After"]
    page = late.session.get(urljoin(live.url, refused.headers["Location"]), timeout=60).text
    assert "Too many attempts" in page
    assert late.session.get(f"{live.url}/files", allow_redirects=False, timeout=60).status_code == 302


@pytest.fixture
def link(request, make_app, counters):
    """A live Locker with a password-protected share link on it: (live, link path)."""
    def make(**limits):
        live = start(request, make_app, counters, **limits)
        _, token = live.user()
        headers = {"Authorization": f"Bearer {token}"}
        client = live.app.test_client()
        file = upload(client, headers, "plans.txt", b"the plans\n")
        return live, path(share(client, headers, file, password="right one"))
    return make


def unlock_burst(browsers, link_path, password):
    for browser in browsers:
        browser.open(link_path)
    return burst(len(browsers), lambda number: browsers[number].post(link_path, password=password))


def unlocks(live, link_path, address, password="right one"):
    """Whether a browser at `address` that gives `password` gets to the file."""
    browser = Browser(live, address)
    browser.open(link_path)
    response = browser.post(link_path, password=password)
    page = browser.session.get(live.url + link_path, timeout=60).text
    return response.status_code == 302 and "plans.txt" in page and "needs a password" not in page


def test_one_address_guessing_a_link_cannot_lock_out_its_recipient(link):
    live, link_path = link(SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK="5 per hour; 10 per day",
                           SHARE_PASSWORD_LIMIT_PER_ADDRESS="20 per hour", SHARE_PASSWORD_LIMIT_PER_LINK="300 per hour")
    attacker = new_address()
    responses = unlock_burst([Browser(live, attacker) for _ in range(BURST)], link_path, "guess")
    assert statuses(responses) == [302] * (BURST - 5) + [401] * 5
    # The guesser waits, even with the right password ...
    assert not unlocks(live, link_path, attacker)
    # ... and the recipient, anywhere else, gets in at once.
    assert unlocks(live, link_path, new_address())


def test_guessing_a_link_from_many_addresses_stops_at_the_links_ceiling(link):
    live, link_path = link(SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK="5 per hour",
                           SHARE_PASSWORD_LIMIT_PER_ADDRESS="20 per hour", SHARE_PASSWORD_LIMIT_PER_LINK="12 per hour")
    responses = unlock_burst([Browser(live, new_address()) for _ in range(BURST)], link_path, "guess")
    assert statuses(responses) == [302] * (BURST - 12) + [401] * 12
    assert not unlocks(live, link_path, new_address())


def test_the_right_link_password_does_not_use_up_the_allowance(link):
    live, link_path = link(SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK="3 per hour",
                           SHARE_PASSWORD_LIMIT_PER_ADDRESS="3 per hour", SHARE_PASSWORD_LIMIT_PER_LINK="3 per hour")
    address = new_address()
    assert all(unlocks(live, link_path, address) for _ in range(6))
    assert statuses(unlock_burst([Browser(live, address) for _ in range(10)], link_path, "guess")) == \
        [302] * 7 + [401] * 3


def test_upload_links_with_a_password_lock_out_only_the_guessing_address(request, make_app, counters):
    live = start(request, make_app, counters, SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK="5 per hour",
                 SHARE_PASSWORD_LIMIT_PER_LINK="300 per hour")
    _, token = live.user()
    made = live.app.test_client().post("/api/v1/requests", headers={"Authorization": f"Bearer {token}"},
                                       json={"title": "Scans", "password": "right one"})
    link_path = urlsplit(made.get_json()["url"]).path
    attacker = new_address()
    responses = unlock_burst([Browser(live, attacker) for _ in range(BURST)], link_path, "guess")
    assert statuses(responses) == [302] * (BURST - 5) + [401] * 5
    for address, gets_in in [(attacker, False), (new_address(), True)]:
        guest = Browser(live, address)
        guest.open(link_path)
        guest.post(link_path, password="right one")
        assert ('id="uploader"' in guest.session.get(live.url + link_path, timeout=60).text) is gets_in


def register(live, browser, username, password=PASSWORD):
    browser.open("/register")
    return browser.post("/register", username=username, password=password, confirm=password)


def accounts_named(live, names):
    with live.app.app_context():
        return set(db.session.execute(db.select(User.username).where(User.username.in_(names))).scalars())


def test_sign_ups_are_limited_per_address_even_in_a_burst(request, make_app, counters):
    live = start(request, make_app, counters, REGISTER_LIMIT_PER_ADDRESS="3 per hour")
    address = new_address()
    names = [f"new{uuid.uuid4().hex[:10]}" for _ in range(10)]
    browsers = [Browser(live, address) for _ in names]
    for browser in browsers:
        browser.open("/register")
    lock = threading.Lock()
    outcomes = []

    def sign_up(number):
        response = browsers[number].post("/register", username=names[number], password=PASSWORD, confirm=PASSWORD)
        with lock:
            outcomes.append(response.headers.get("Location", ""))
        return response

    responses = burst(len(names), sign_up)
    assert statuses(responses) == [302] * len(names)
    assert len(accounts_named(live, names)) == 3
    assert sum(1 for location in outcomes if location.endswith("/register")) == 7
    # The refused ones were told why.
    refused = next(browser for browser, name in zip(browsers, names) if name not in accounts_named(live, names))
    assert "Too many attempts" in refused.session.get(f"{live.url}/register", timeout=60).text
    # A weak password is refused without using up anything; another address signs up as usual.
    elsewhere = Browser(live, new_address())
    weak = register(live, elsewhere, "weakling", "password")
    assert weak.status_code == 400
    assert all(register(live, Browser(live, elsewhere.session.headers["X-Forwarded-For"]), name).status_code == 302
               for name in ["first1", "second2", "third3"])
    assert accounts_named(live, ["first1", "second2", "third3"]) == {"first1", "second2", "third3"}


def test_a_guess_given_back_after_its_window_ran_out_gives_no_extra_guess_later(make_app, counters):
    app = make_app(RATELIMIT_STORAGE_URI=counters, LOGIN_LIMIT_PER_ACCOUNT="2 per hour")
    budget = (Budget("LOGIN_LIMIT_PER_ACCOUNT", "login-account", f"account:{uuid.uuid4().hex}"),)
    with app.test_request_context():
        counted = spend(budget)  # a right password, being checked while ...
        for key, _ in counted:
            storage_call(lambda storage: storage.clear(key))  # ... its window ends
        give_back(counted)
        spend(budget)
        spend(budget)
        with pytest.raises(Spent):
            spend(budget)


def test_limits_answer_503_not_500_when_their_storage_is_down(request, make_app):
    live = start(request, make_app, "redis://127.0.0.1:9/0")
    username, _ = live.user()
    response = api_sign_in(live, username, PASSWORD, new_address())
    assert response.status_code == 503 and response.json()["error"]["code"] == "limits_unavailable"


def test_guest_uploads_answer_503_and_start_nothing_when_limit_storage_is_down(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    with app.app_context():
        headers = accounts.headers(accounts.create())
    link = urlsplit(app.test_client().post("/api/v1/requests", headers=headers, json={"title": "Scans"})
                    .get_json()["url"]).path
    guest = app.test_client()
    page = guest.get(link)
    started = guest.post(f"{link}/uploads", json={"name": "scan.pdf", "size": 5},
                         headers={"X-CSRFToken": csrf_from(page.get_data(as_text=True)), "Accept": "application/json"})
    assert started.status_code == 503 and started.get_json()["error"]["code"] == "limits_unavailable"
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(File.id))).scalar_one() == 0


def test_a_redis_that_stops_answering_gets_a_503_within_the_time_limit(request, make_app, proxy_to):
    redis = proxy_to(REDIS)
    live = start(request, make_app, f"redis://127.0.0.1:{redis.port}/0")
    username, _ = live.user()
    assert api_sign_in(live, username, PASSWORD, new_address()).status_code == 201
    redis.set(MUTE)
    # Far above the limit's 1 s, far below what an unbounded wait costs (the client gives up first).
    response = requests.post(f"{live.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                             headers={"X-Forwarded-For": new_address()}, timeout=4 * REDIS_TIMEOUT_SECONDS)
    assert response.status_code == 503 and response.json()["error"]["code"] == "limits_unavailable"
    redis.set(PASS)
    assert api_sign_in(live, username, PASSWORD, new_address()).status_code == 201


def test_retry_after_counts_down_the_window(request, make_app, counters):
    live = start(request, make_app, counters, LOGIN_LIMIT_PER_ACCOUNT="1 per hour")
    username, _ = live.user()
    assert api_sign_in(live, username, "wrong", new_address()).status_code == 401
    refused = api_sign_in(live, username, "wrong", new_address())
    assert refused.status_code == 429 and 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert re.fullmatch(r"\d+", refused.headers["Retry-After"])
    # The message says the same wait in words, not the "minute" most windows have.
    assert refused.json()["error"]["message"] == \
        f"Too many attempts. Try again in {wait_in_words(int(refused.headers['Retry-After']))}."
    assert "minutes" in refused.json()["error"]["message"]


@pytest.mark.parametrize("seconds, words", [(0, "1 second"), (1, "1 second"), (45, "45 seconds"), (60, "1 minute"),
                                            (61, "2 minutes"), (3600, "60 minutes"), (7200, "2 hours"),
                                            (7201, "3 hours")])
def test_waits_are_said_rounded_up_in_the_unit_people_count_in(seconds, words):
    assert wait_in_words(seconds) == words
