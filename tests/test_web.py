"""The browser pages: file list, sorting, paging, download and delete."""
import re
import uuid


from app.extensions import db
from app.models import File, FileRequest, FileStatus
from tests.conftest import Accounts, csrf_from
from tests.helpers import recorded_sql, row_names, send, upload


def test_files_page_lists_name_size_type_and_time(signed_in):
    client, _, headers = signed_in
    upload(client, headers, "budget.xlsx", b"x" * 1536, "application/vnd.ms-excel")
    html = client.get("/files").get_data(as_text=True)
    assert row_names(html) == ["budget.xlsx"]
    # The type may break after its slash (<wbr>), never inside a word.
    assert "1.5 KiB" in html and '<td class="type" data-label="Type">application/<wbr>vnd.ms-excel</td>' in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    assert 'aria-label="Download: budget.xlsx"' in html and 'aria-label="Delete: budget.xlsx"' in html


def test_names_are_escaped_never_rendered_as_html(signed_in):
    client, _, headers = signed_in
    upload(client, headers, "it's & <b>.txt".replace("<b>", "b"), b"x")
    html = client.get("/files").get_data(as_text=True)
    assert "it&#39;s &amp; b.txt" in html


def test_sorting_and_keyset_paging_in_the_page(make_app, backend, accounts):
    app = make_app(**backend, FILES_PER_PAGE=2)
    with app.app_context():
        client, user = accounts.signed_in_client()
        headers = accounts.headers(user)
        for name, size in [("b.txt", 3), ("a.txt", 1), ("c.txt", 2)]:
            upload(client, headers, name, b"x" * size)
        first = client.get("/files?sort=name&order=asc").get_data(as_text=True)
        assert row_names(first) == ["a.txt", "b.txt"] and 'aria-sort="ascending"' in first
        next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        second = client.get(next_link).get_data(as_text=True)
        assert row_names(second) == ["c.txt"] and 'rel="next"' not in second
        prev_link = re.search(r'href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
        assert row_names(client.get(prev_link).get_data(as_text=True)) == ["a.txt", "b.txt"]
        assert row_names(client.get("/files?sort=size&order=desc").get_data(as_text=True)) == ["b.txt", "c.txt"]


def test_bad_sort_in_page_gets_a_page_not_a_500(signed_in):
    client, _, _ = signed_in
    response = client.get("/files?sort=nonsense")
    assert response.status_code == 400 and "Sort by one of" in response.get_data(as_text=True)


def test_download_redirects_to_a_signed_url(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "notes.txt", b"hello", "text/plain")
    response = client.get(f"/files/{file['id']}/download")
    assert response.status_code == 302
    status, response_headers, body = send(client, "GET", response.headers["Location"])
    assert status == 200 and body == b"hello"
    assert response_headers["Content-Disposition"].startswith("attachment")


def test_delete_asks_first_then_deletes(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "old.txt", b"bye")
    confirm = client.get(f"/files/{file['id']}/delete")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "old.txt" in html and "Delete this file?" in html
    assert row_names(client.get("/files").get_data(as_text=True)) == ["old.txt"]
    response = client.post(f"/files/{file['id']}/delete", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    page = client.get("/files").get_data(as_text=True)
    assert row_names(page) == [] and "Moved old.txt to the trash." in page


def test_delete_without_csrf_changes_nothing(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "keep.txt", b"x")
    client.post(f"/files/{file['id']}/delete")
    assert db.session.execute(db.select(File.name)).scalars().all() == ["keep.txt"]


def without_tokens(response):
    """The page with its CSRF token (time-stamped, so it differs by the second) masked."""
    html = response.get_data(as_text=True)
    return html.replace(csrf_from(html), "TOKEN")


def test_another_users_file_is_404_on_every_page(accounts, signed_in):
    owner_client, _, owner_headers = signed_in
    file = upload(owner_client, owner_headers, "private.txt", b"x")
    intruder, _ = accounts.signed_in_client()
    token = csrf_from(intruder.get("/files").get_data(as_text=True))
    for method, path, data in [("GET", f"/files/{file['id']}/download", None),
                               ("GET", f"/files/{file['id']}/delete", None),
                               ("POST", f"/files/{file['id']}/delete", {"csrf_token": token})]:
        foreign = intruder.open(path, method=method, data=data)
        missing = intruder.open(path.replace(file["id"], "f" * 32), method=method, data=data)
        assert foreign.status_code == missing.status_code == 404, path
        assert without_tokens(foreign) == without_tokens(missing)
    assert row_names(owner_client.get("/files").get_data(as_text=True)) == ["private.txt"]


def test_pages_need_login(client):
    for path in ["/files", "/account", "/files/abc/download"]:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_api_errors_are_json_even_for_unknown_routes(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    wrong_method = client.put("/api/v1/auth/token")
    assert wrong_method.status_code == 405 and wrong_method.is_json


def test_uppy_is_served_from_node_modules_not_a_cdn(client, signed_in):
    signed_client, _, _ = signed_in
    html = signed_client.get("/files").get_data(as_text=True)
    assert "/vendor/uppy.min.css" in html and "https://" not in html
    assert client.get("/vendor/uppy.min.mjs").status_code == 200
    assert client.get("/vendor/package.json").status_code == 404


def add_files(owner, guest_requests=0, visible_from=()):
    """Ready rows written directly: guest files each from a request of its own, and one visible file per other user."""
    for number in range(guest_requests):
        request = FileRequest(public_id=uuid.uuid4().hex, owner_id=owner.id, token_hash=uuid.uuid4().hex,
                              title=f"request {number}")
        db.session.add(request)
        db.session.flush()
        add_file(owner, f"guest {request.id}.txt", file_request_id=request.id, guest_name="a guest")
    for other in visible_from:
        add_file(other, f"shared {other.id}.txt", visible_to_everyone=True)
    db.session.commit()


def add_file(owner, name, **columns):
    db.session.add(File(public_id=uuid.uuid4().hex, owner_id=owner.id, name=name, search_name=name, size=1,
                        content_type="text/plain", storage_key=f"u/{owner.id}/{uuid.uuid4().hex}",
                        status=FileStatus.READY, **columns))


def statements_for(call):
    with recorded_sql() as executed:
        response = call()
    assert response.status_code == 200
    return len(executed)


def test_a_page_of_files_takes_the_same_queries_however_many_owners_and_requests_it_shows(local_app):
    """Owners' names and the requests guest files came through are loaded for the page, not per row."""
    accounts = Accounts()
    client, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    pages = {"table": lambda: client.get("/files?fragment=table&q=.txt"),
             "mine": lambda: client.get("/api/v1/files", headers=headers),
             "all": lambda: client.get("/api/v1/files?scope=all", headers=headers),
             "everyone": lambda: client.get("/everyone")}
    add_files(user, guest_requests=2, visible_from=[accounts.create() for _ in range(2)])
    for call in pages.values():
        call()  # the token's first use records when it was used; later calls don't
    few = {name: statements_for(call) for name, call in pages.items()}
    add_files(user, guest_requests=8, visible_from=[accounts.create() for _ in range(8)])
    many = {name: statements_for(call) for name, call in pages.items()}
    assert len(client.get("/api/v1/files?scope=all", headers=headers).get_json()["items"]) == 20
    assert many == few


def test_odd_query_names_on_a_list_are_ignored_not_a_500(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "a.txt", b"a")
    # url_for's own keywords, given as query arguments, must not reach it through the rows' "back to this list".
    response = client.get("/files?endpoint=x&_method=PUT&_external=1&_anchor=top&values=1&sort=name")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'/files/{file["id"]}/rename?next=/files?sort%3Dname"' in html
    assert '<input type="hidden" name="next" value="/files?sort=name">' in html
    assert client.get("/everyone?endpoint=x&_scheme=javascript").status_code == 200
