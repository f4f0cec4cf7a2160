"""The JSON API's file flow, on both storage backends."""
from urllib.parse import unquote

import pytest

from app.extensions import db
from app.models import File, FileStatus
from tests.helpers import cursor as cursor_of
from tests.helpers import download, recorded_sql, send, sha256, start_upload, upload, walk_pages, write_directly


def stored_rows():
    return db.session.execute(db.select(File.name, File.status)).all()


def test_upload_list_get_download_delete(client, headers):
    data = b"quarterly numbers\n" * 100
    file = upload(client, headers, "report.csv", data, "text/csv")
    assert file["name"] == "report.csv" and file["size"] == len(data) and file["content_type"] == "text/csv"
    assert file["created_at"].endswith("Z")

    listed = client.get("/api/v1/files", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [file["id"]] and listed["next_cursor"] is None
    assert client.get(f"/api/v1/files/{file['id']}", headers=headers).get_json() == file

    status, response_headers, body = download(client, headers, file["id"])
    assert status == 200 and body == data
    assert response_headers["Content-Type"].startswith("text/csv")
    assert response_headers["Content-Disposition"].startswith("attachment")

    assert client.delete(f"/api/v1/files/{file['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/files/{file['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []
    assert [name for name, _ in stored_rows()] == [file["name"]], "in the trash"
    assert client.post("/api/v1/trash/purge", headers=headers, json={"files": [file["id"]]}).status_code == 204
    assert stored_rows() == []


@pytest.mark.parametrize("name", ["résumé 2026.pdf", "文件.txt", "it's; a, list (final) #1.txt"])
def test_download_keeps_unicode_names(client, headers, name):
    file = upload(client, headers, name, b"x" * 10, "application/pdf")
    _, response_headers, _ = download(client, headers, file["id"])
    disposition = response_headers["Content-Disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == name


def test_download_without_redirect_returns_url_and_expiry(client, headers, app):
    file = upload(client, headers, "a.bin", b"abc")
    response = client.get(f"/api/v1/files/{file['id']}/download?redirect=0", headers=headers)
    body = response.get_json()
    assert response.status_code == 200 and body["expires_at"].endswith("Z")
    status, _, data = send(client, "GET", body["url"])
    assert status == 200 and data == b"abc"


def test_local_backend_records_sha256(local_app, accounts):
    client = local_app.test_client()
    headers = accounts.headers(accounts.create())
    file = upload(client, headers, "a.bin", b"abc")
    assert file["sha256"] == sha256(b"abc")


def test_same_name_gets_numbered_suffix_and_nothing_is_overwritten(client, headers):
    first = upload(client, headers, "report.pdf", b"first")
    second = upload(client, headers, "report.pdf", b"second")
    third = upload(client, headers, "report.pdf", b"third")
    archive = upload(client, headers, "backup.tar.gz", b"1")
    archive_again = upload(client, headers, "backup.tar.gz", b"2")
    assert [first["name"], second["name"], third["name"]] == ["report.pdf", "report (1).pdf", "report (2).pdf"]
    assert archive_again["name"] == "backup (1).tar.gz" and archive["name"] == "backup.tar.gz"
    assert download(client, headers, first["id"])[2] == b"first"
    assert download(client, headers, second["id"])[2] == b"second"


def test_names_are_per_user(client, accounts):
    a, b = accounts.headers(accounts.create()), accounts.headers(accounts.create())
    assert upload(client, a, "notes.txt", b"a")["name"] == "notes.txt"
    assert upload(client, b, "notes.txt", b"b")["name"] == "notes.txt"


def test_file_listed_only_after_completion(client, headers):
    started = start_upload(client, headers, "pending.bin", b"abc").get_json()
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []
    assert client.get(f"/api/v1/files/{started['id']}", headers=headers).status_code == 404
    send(client, started["method"], started["url"], started["headers"], b"abc")
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []
    client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert len(client.get("/api/v1/files", headers=headers).get_json()["items"]) == 1


def test_complete_before_bytes_arrive_is_a_clear_conflict(client, headers):
    started = start_upload(client, headers, "later.bin", b"abc").get_json()
    response = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "upload_missing"
    # The upload can still finish afterwards.
    send(client, started["method"], started["url"], started["headers"], b"abc")
    assert client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers).status_code == 200


def test_completing_twice_is_refused(client, headers):
    file = upload(client, headers, "once.txt", b"abc")
    response = client.post(f"/api/v1/uploads/{file['id']}/complete", headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_completed"
    assert len(client.get("/api/v1/files", headers=headers).get_json()["items"]) == 1


def test_size_differing_from_declared_is_discarded(app, client, headers):
    """Storage that accepts another size (moto does; S3 and local refuse) is caught at completion."""
    started = start_upload(client, headers, "short.bin", b"0123456789").get_json()
    key = db.session.execute(db.select(File.storage_key).filter_by(public_id=started["id"])).scalar_one()
    write_directly(app, key, b"01234")  # behind the signed request's back
    response = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "size_mismatch"
    assert stored_rows() == []
    assert app.extensions["locker.storage"].stat(key) is None


def test_put_with_a_different_size_never_becomes_a_file(app, client, headers):
    started = start_upload(client, headers, "liar.bin", b"0123456789").get_json()
    status, _, _ = send(client, "PUT", started["url"], started["headers"], b"0123456789-and-more")
    completed = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    if app.config["STORAGE_BACKEND"] == "local":
        # Local storage refuses the PUT itself (as S3 does; the rclone tests show it), so nothing arrived.
        assert status == 400 and completed.status_code == 409
    else:
        # moto stores any size; Locker must still refuse it at completion.
        assert status == 200 and completed.status_code == 400
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []


BAD_UPLOADS = [
    ({"name": "empty.txt", "size": 0}, 400, "empty_file"),
    ({"name": "nothing.txt"}, 400, "invalid_size"),
    ({"size": 10}, 400, "invalid_name"),
    ({"name": "big.iso", "size": 10 * 1024 ** 4}, 413, "file_too_large"),
    ({"name": "../etc/passwd", "size": 10}, 400, "invalid_name"),
    ({"name": "..\\win.ini", "size": 10}, 400, "invalid_name"),
    ({"name": "<script>alert(1)</script>.html", "size": 10}, 400, "invalid_name"),
    ({"name": "nul\x00byte.txt", "size": 10}, 400, "invalid_name"),
    ({"name": "a" * 300, "size": 10}, 400, "invalid_name"),
    ({"name": "..", "size": 10}, 400, "invalid_name"),
    ({"name": "...", "size": 10}, 400, "invalid_name"),
    ({"name": "   ", "size": 10}, 400, "invalid_name"),
    ({"name": "ok.txt", "size": "10"}, 400, "invalid_size"),
    ({"name": "ok.txt", "size": -1}, 400, "empty_file"),
    ({"name": "ok.txt", "size": True}, 400, "invalid_size"),
    ({"name": "ok.txt", "size": 10, "content_type": "not a type"}, 400, "invalid_content_type"),
    ({"name": "ok.txt", "size": 10, "sha256": "abc"}, 400, "invalid_sha256"),
    ({"name": ["list.txt"], "size": 10}, 400, "invalid_name"),
]


@pytest.mark.parametrize("body,status,code", BAD_UPLOADS)
def test_bad_upload_requests_are_refused_and_change_nothing(client, headers, body, status, code):
    response = client.post("/api/v1/uploads", headers=headers, json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert stored_rows() == []


def test_size_limit_comes_from_config(make_app, backend, accounts):
    app = make_app(**backend, MAX_FILE_SIZE=100)
    client = app.test_client()
    with app.app_context():
        headers = accounts.headers(accounts.create())
        response = client.post("/api/v1/uploads", headers=headers, json={"name": "a.bin", "size": 101})
        assert response.status_code == 413 and "100 bytes" in response.get_json()["error"]["message"]
        assert client.post("/api/v1/uploads", headers=headers, json={"name": "a.bin", "size": 100}).status_code == 201


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", ""])
def test_non_object_bodies_get_a_json_error(client, headers, payload):
    response = client.post("/api/v1/uploads", headers={**headers, "Content-Type": "application/json"}, data=payload)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_content_type_is_guessed_when_missing(client, headers):
    assert upload(client, headers, "photo.png", b"x", content_type="")["content_type"] == "image/png"
    assert upload(client, headers, "mystery", b"x", content_type="")["content_type"] == "application/octet-stream"


def test_another_users_file_is_404_everywhere(client, accounts):
    owner, intruder = accounts.create(), accounts.create()
    owner_headers, intruder_headers = accounts.headers(owner), accounts.headers(intruder)
    file = upload(client, owner_headers, "secret.txt", b"mine")
    pending = start_upload(client, owner_headers, "pending.txt", b"abc").get_json()
    requests_to_try = [
        ("GET", f"/api/v1/files/{file['id']}"),
        ("GET", f"/api/v1/files/{file['id']}/download"),
        ("GET", f"/api/v1/files/{file['id']}/download?redirect=0"),
        ("DELETE", f"/api/v1/files/{file['id']}"),
        ("POST", f"/api/v1/uploads/{pending['id']}/complete"),
    ]
    for method, path in requests_to_try:
        foreign = client.open(path, method=method, headers=intruder_headers)
        missing = client.open(path.replace(file["id"], "0" * 32).replace(pending["id"], "0" * 32),
                              method=method, headers=intruder_headers)
        assert foreign.status_code == missing.status_code == 404, path
        assert foreign.get_json() == missing.get_json()
    assert client.get(f"/api/v1/files/{file['id']}", headers=owner_headers).status_code == 200


def test_pagination_is_keyset_and_complete(client, headers):
    names = [f"file{i:02}.txt" for i in range(7)]
    for name in names:
        upload(client, headers, name, b"x" * (names.index(name) + 1))
    for sort, order, expected in [
        ("name", "asc", names), ("name", "desc", names[::-1]),
        ("size", "desc", names[::-1]), ("date", "asc", names),
    ]:
        seen = [item["name"] for item in walk_pages(client, headers, "/api/v1/files", limit=3, sort=sort,
                                                     order=order)]
        assert seen == expected, (sort, order)


@pytest.mark.parametrize("query,code", [("limit=0", "invalid_limit"), ("limit=5000", "invalid_limit"),
                                        ("limit=abc", "invalid_limit"), ("cursor=garbage", "invalid_cursor"),
                                        ("sort=owner", "invalid_sort"), ("order=sideways", "invalid_order")])
def test_bad_list_parameters_get_clear_errors(client, headers, query, code):
    response = client.get(f"/api/v1/files?{query}", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


@pytest.mark.parametrize("service, cursor", [
    *[(service, cursor) for service in ("files", "audit") for cursor in ("garbage!", cursor_of([1]), cursor_of("x"))],
    ("files", cursor_of({"s": "date", "o": "desc", "i": 1})),
    ("files", cursor_of({"s": "date", "o": "desc", "v": "yesterday", "i": 1})),
    ("files", cursor_of({"s": "size", "o": "desc", "v": 2 ** 70, "i": 1})),
    ("files", cursor_of({"s": "name", "o": "asc", "v": "a", "i": 1, "c": "theirs"})),
    ("audit", cursor_of({"i": -1})),
    ("audit", cursor_of({"i": True})),
])
def test_every_malformed_cursor_is_the_same_clear_error(service, cursor):
    from app.errors import InvalidInput
    from app.services import audit, files

    with pytest.raises(InvalidInput) as raised:
        {"files": files, "audit": audit}[service].decode_cursor(cursor)
    assert raised.value.code == "invalid_cursor"


def test_failed_object_delete_keeps_row_marked_and_is_retried(app, client, headers, monkeypatch):
    from app.services import files as file_service
    from app.storage import StorageError

    file = upload(client, headers, "stubborn.txt", b"abc")
    storage = app.extensions["locker.storage"]
    real_delete = storage.delete

    def broken_delete(key):
        raise StorageError("storage is down")

    monkeypatch.setattr(storage, "delete", broken_delete)
    assert client.delete(f"/api/v1/files/{file['id']}", headers=headers).status_code == 204
    assert client.post("/api/v1/trash/purge", headers=headers, json={"files": [file["id"]]}).status_code == 204
    # Unlisted at once, but the row stays, marked, until the bytes are really gone.
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []
    assert stored_rows() == [("stubborn.txt", FileStatus.DELETING)]

    monkeypatch.setattr(storage, "delete", real_delete)
    assert file_service.retry_deletes() == (1, 0)
    assert stored_rows() == []


def test_unreachable_storage_is_a_503_not_a_500(app, client, headers, monkeypatch):
    from app.storage import StorageError

    def down(*args, **kwargs):
        raise StorageError("down")

    started = start_upload(client, headers, "a.txt", b"abc").get_json()
    monkeypatch.setattr(app.extensions["locker.storage"], "stat", down)
    response = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "storage_unavailable"


@pytest.mark.parametrize("sort", ["date", "name", "size"])
def test_listing_pages_by_key_through_an_index_never_offset(client, headers, sort):
    """Each page is a range read on an (owner, status, column, id) index: page 1 at 100,000 files costs what it does at 100."""

    from app.models import User
    from app.services import files as file_service
    for number in range(3):
        upload(client, headers, f"f{number}.txt", b"x" * (number + 1))
    owner = db.session.get(User, db.session.execute(db.select(File.owner_id)).scalars().first())
    with recorded_sql() as executed:
        first = file_service.list_files(owner, sort=sort, limit=2)
        file_service.list_files(owner, cursor=first.next_cursor, limit=2)
    pages = [(sql, params) for sql, params in executed if "FROM files" in sql and "LIMIT" in sql.upper()]
    assert len(pages) == 2
    # (SQLAlchemy's SQLite dialect always writes "LIMIT ? OFFSET ?"; the offset must then be 0.)
    assert all("OFFSET" not in sql.upper() or params[-1] == 0 for sql, params in pages)
    sql, params = pages[-1]  # the page after a cursor: the keyset comparison must use the index too
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # A tiny table (whose statistics other tests may have left skewed): ask whether the
            # index *can* serve both the range and the order.
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_sort = off")
            plan = connection.exec_driver_sql("EXPLAIN " + sql, params).all()
        else:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    index = f"ix_files_owner_status_{'created' if sort == 'date' else sort}"
    assert index in " ".join(str(row) for row in plan)
