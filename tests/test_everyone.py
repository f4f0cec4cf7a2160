"""Files visible to everyone: the owner-only toggle, the Everyone page and API scope, and who may do what with them."""
import re
from html import unescape

import pytest

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import csrf_from
from tests.helpers import download, row_names, send, set_visible, upload, walk_pages


@pytest.fixture
def people(app, accounts):
    """Alice (who owns the files) and Bob, each signed in in a browser and with an API token."""
    alice_browser, alice = accounts.signed_in_client(accounts.create("alice"))
    bob_browser, bob = accounts.signed_in_client(accounts.create("bob"))
    return {"alice": (alice_browser, accounts.headers(alice)), "bob": (bob_browser, accounts.headers(bob))}


def everyone_names(client, headers, **params):
    body = client.get("/api/v1/files", headers=headers, query_string={"scope": "everyone", **params}).get_json()
    return [(item["name"], item["owner"]) for item in body["items"]]


def test_owner_makes_a_file_visible_and_private_again_through_the_api(people):
    client, alice = people["alice"]
    file = upload(client, alice, "handbook.pdf", b"x")
    assert file["visible_to_everyone"] is False and file["owner"] == "alice"

    response = set_visible(client, alice, file["id"], True)
    assert response.status_code == 200
    assert response.get_json() == {**file, "visible_to_everyone": True}
    assert set_visible(client, alice, file["id"], False).get_json()["visible_to_everyone"] is False

    events = db.session.execute(db.select(AuditEvent.action, AuditEvent.detail, AuditEvent.file_name)
                                .order_by(AuditEvent.id)).all()
    assert [e for e in events if e.action == "visibility_changed"] == [
        ("visibility_changed", "visible to everyone", "handbook.pdf"), ("visibility_changed", "private", "handbook.pdf")]


def test_only_the_owner_can_change_visibility(people):
    client, alice = people["alice"]
    _, bob = people["bob"]
    file = upload(client, alice, "handbook.pdf", b"x")
    for visible in (True, False):
        foreign = set_visible(client, bob, file["id"], visible)
        missing = set_visible(client, bob, "0" * 32, visible)
        assert foreign.status_code == missing.status_code == 404 and foreign.get_json() == missing.get_json()
    set_visible(client, alice, file["id"], True)
    assert set_visible(client, bob, file["id"], False).status_code == 404  # seeing it is not owning it
    assert everyone_names(client, bob) == [("handbook.pdf", "alice")]
    assert not db.session.execute(db.select(AuditEvent).filter_by(action="visibility_changed",
                                                                   detail="private")).first()


@pytest.mark.parametrize("body", [{}, {"visible_to_everyone": "maybe"}, {"visible_to_everyone": None}, []])
def test_bad_visibility_requests_are_refused_and_change_nothing(people, body):
    client, alice = people["alice"]
    file = upload(client, alice, "handbook.pdf", b"x")
    response = client.patch(f"/api/v1/files/{file['id']}", headers=alice, json=body)
    assert response.status_code == 400 and "error" in response.get_json()
    assert client.get(f"/api/v1/files/{file['id']}", headers=alice).get_json()["visible_to_everyone"] is False


def test_everyone_lists_visible_ready_files_of_all_users_newest_first(people):
    client, alice = people["alice"]
    _, bob = people["bob"]
    old = upload(client, alice, "old.txt", b"x")
    upload(client, alice, "private.txt", b"x")
    new = upload(client, bob, "new.txt", b"x")
    client.post("/api/v1/uploads", headers=bob, json={"name": "pending.txt", "size": 3})
    for owner, file in [(alice, old), (bob, new)]:
        set_visible(client, owner, file["id"], True)

    assert everyone_names(client, alice) == [("new.txt", "bob"), ("old.txt", "alice")]
    assert everyone_names(client, bob) == everyone_names(client, alice)
    # Without a scope (or q), the list stays your own, as it always was.
    assert [i["name"] for i in client.get("/api/v1/files", headers=bob).get_json()["items"]] == ["new.txt"]

    set_visible(client, bob, new["id"], False)
    assert everyone_names(client, alice) == [("old.txt", "alice")]
    client.delete(f"/api/v1/files/{old['id']}", headers=alice)
    assert everyone_names(client, bob) == []


def test_everyone_scope_pages_by_cursor(people):
    client, alice = people["alice"]
    names = [f"doc {i}.txt" for i in range(5)]
    for name in names:
        set_visible(client, alice, upload(client, alice, name, b"x")["id"], True)
    seen = [item["name"] for item in walk_pages(client, alice, "/api/v1/files", scope="everyone", limit=2)]
    assert seen == names[::-1]


def test_anyone_signed_in_can_download_a_visible_file_but_not_delete_share_or_hide_it(people, backend):
    client, alice = people["alice"]
    bob_browser, bob = people["bob"]
    file = upload(client, alice, "minutes.txt", b"what we said", "text/plain")
    assert client.get(f"/api/v1/files/{file['id']}/download", headers=bob).status_code == 404
    set_visible(client, alice, file["id"], True)

    status, headers, body = download(client, bob, file["id"])
    assert status == 200 and body == b"what we said" and headers["Content-Disposition"].startswith("attachment")
    web = bob_browser.get(f"/files/{file['id']}/download")
    assert web.status_code == 302 and send(bob_browser, "GET", web.headers["Location"])[2] == b"what we said"
    assert client.get(f"/api/v1/files/{file['id']}", headers=bob).get_json()["owner"] == "alice"

    assert client.delete(f"/api/v1/files/{file['id']}", headers=bob).status_code == 404
    assert client.post("/api/v1/shares", headers=bob, json={"file_id": file["id"]}).status_code == 404
    assert bob_browser.get(f"/files/{file['id']}/share").status_code == 404
    assert bob_browser.get(f"/files/{file['id']}/delete").status_code == 404
    token = csrf_from(bob_browser.get("/everyone").get_data(as_text=True))
    assert bob_browser.post(f"/files/{file['id']}/delete", data={"csrf_token": token}).status_code == 404
    assert bob_browser.post(f"/files/{file['id']}/visibility",
                            data={"csrf_token": token, "visible": "0"}).status_code == 404
    assert download(client, alice, file["id"])[2] == b"what we said"

    set_visible(client, alice, file["id"], False)
    assert client.get(f"/api/v1/files/{file['id']}/download", headers=bob).status_code == 404
    assert bob_browser.get(f"/files/{file['id']}/download").status_code == 404


def test_the_everyone_page_shows_owner_date_size_and_a_download_button(people):
    alice_browser, alice = people["alice"]
    bob_browser, _ = people["bob"]
    empty = bob_browser.get("/everyone").get_data(as_text=True)
    assert "Nobody has shared a file with everyone yet." in empty
    assert '<a href="/everyone">Everyone</a>' in empty

    file = upload(alice_browser, alice, "plan & budget.xlsx", b"x" * 2048)
    upload(alice_browser, alice, "diary.txt", b"x")
    set_visible(alice_browser, alice, file["id"], True)
    html = bob_browser.get("/everyone").get_data(as_text=True)
    assert row_names(html) == ["plan &amp; budget.xlsx"]
    assert '<td class="owner" data-label="Owner">alice</td>' in html and "2.0 KiB" in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    assert f'href="/files/{file["id"]}/download" aria-label="Download: plan &amp; budget.xlsx from alice"' in html
    assert "Delete" not in html and "diary.txt" not in html
    assert '<label for="search-q">Search files shared with everyone</label>' in html
    # Bob's own files page is still only his.
    assert row_names(bob_browser.get("/files").get_data(as_text=True)) == []


def test_a_file_shared_with_everyone_can_be_viewed_from_the_everyone_page(people):
    alice_browser, alice = people["alice"]
    bob_browser, _ = people["bob"]
    file = upload(alice_browser, alice, "notes.txt", b"hello")
    set_visible(alice_browser, alice, file["id"], True)
    listing = bob_browser.get("/everyone").get_data(as_text=True)
    assert f'href="/files/{file["id"]}/view" aria-label="View: notes.txt from alice"' in listing

    page = bob_browser.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert "<dt>Owner</dt><dd>alice" in page
    assert '<a class="button" href="/everyone">Back to files shared with everyone</a>' in page
    assert "Back to your files" not in page
    assert f"/files/{file['id']}/share" not in page and "/activity?file=" not in page  # the owner's buttons
    own = alice_browser.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert "<dt>Owner</dt>" not in own and "Back to your files" in own
    assert f'href="/activity?file={file["id"]}">Activity</a>' in own


def test_the_everyone_page_pages_newest_first(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", FILES_PER_PAGE=2)
    with app.app_context():
        browser, user = accounts.signed_in_client()
        headers = accounts.headers(user)
        for name in ["a.txt", "b.txt", "c.txt"]:
            set_visible(browser, headers, upload(browser, headers, name, b"x")["id"], True)
        first = browser.get("/everyone").get_data(as_text=True)
        assert row_names(first) == ["c.txt", "b.txt"]
        next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        assert next_link.startswith("/everyone?")
        second = browser.get(next_link).get_data(as_text=True)
        assert row_names(second) == ["a.txt"] and 'rel="prev"' in second
        # A cursor from the Everyone page names another list than the files page, or another search.
        assert browser.get(next_link.replace("/everyone", "/files")).status_code == 400
        assert browser.get(next_link + "&q=a").status_code == 400


def test_the_toggle_in_the_files_page(people):
    browser, alice = people["alice"]
    bob_browser, _ = people["bob"]
    file = upload(browser, alice, "slides.pdf", b"x")
    page = browser.get("/files").get_data(as_text=True)
    assert 'aria-label="Visible to everyone: slides.pdf">Visible to everyone</button>' in page

    response = browser.post(f"/files/{file['id']}/visibility", data={"csrf_token": csrf_from(page), "visible": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/files"
    page = browser.get("/files").get_data(as_text=True)
    assert "slides.pdf is now visible to everyone." in page
    assert 'aria-label="Make private: slides.pdf">Make private</button>' in page
    assert row_names(bob_browser.get("/everyone").get_data(as_text=True)) == ["slides.pdf"]

    searched = browser.get("/files?q=slides").get_data(as_text=True)
    response = browser.post(f"/files/{file['id']}/visibility",
                            data={"csrf_token": csrf_from(searched), "visible": "0", "next": back_to(searched)})
    assert response.headers["Location"] == "/files?q=slides"
    assert "slides.pdf is now private." in browser.get("/files").get_data(as_text=True)
    assert row_names(bob_browser.get("/everyone").get_data(as_text=True)) == []


def back_to(html):
    """Where a visibility button on this page says to come back to."""
    return unescape(re.search(r'name="next" value="([^"]*)"', html).group(1))


def test_the_toggle_brings_you_back_to_the_list_as_it_was(people):
    browser, alice = people["alice"]
    file = upload(browser, alice, "slides.pdf", b"x")
    upload(browser, alice, "notes.txt", b"y")
    sorted_page = browser.get("/files?sort=name&order=asc").get_data(as_text=True)
    assert back_to(sorted_page) == "/files?sort=name&order=asc"
    # The table refreshes itself as a fragment; its buttons still lead back to the whole page.
    assert back_to(browser.get("/files?sort=name&order=asc&fragment=table").get_data(as_text=True)) \
        == "/files?sort=name&order=asc"
    browser.post(f"/files/{file['id']}/visibility", data={"csrf_token": csrf_from(sorted_page), "visible": "1"})

    everyone = browser.get("/everyone").get_data(as_text=True)
    assert 'aria-label="Make private: slides.pdf"' in everyone  # your own files keep their controls there
    response = browser.post(f"/files/{file['id']}/visibility",
                            data={"csrf_token": csrf_from(everyone), "visible": "0", "next": back_to(everyone)})
    assert response.headers["Location"] == "/everyone"


def test_a_toggle_never_sends_you_to_another_site(people):
    browser, alice = people["alice"]
    file = upload(browser, alice, "slides.pdf", b"x")
    page = browser.get("/files").get_data(as_text=True)
    response = browser.post(f"/files/{file['id']}/visibility",
                            data={"csrf_token": csrf_from(page), "visible": "1", "next": "//evil.example/x"})
    assert response.headers["Location"] == "/files"


def test_the_toggle_needs_the_forms_csrf_token(people):
    browser, alice = people["alice"]
    file = upload(browser, alice, "slides.pdf", b"x")
    response = browser.post(f"/files/{file['id']}/visibility", data={"visible": "1"})
    assert response.status_code == 302
    assert "The form expired" in browser.get("/files").get_data(as_text=True)
    assert browser.get(f"/api/v1/files/{file['id']}", headers=alice).get_json()["visible_to_everyone"] is False
