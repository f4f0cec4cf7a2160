"""Small helpers the tests share: sending bytes to a signed URL, the API upload flow, share links, pages of lists,
and races between threads."""
import base64
import hashlib
import json
import re
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from sqlalchemy import event

from app.extensions import db
from tests.conftest import csrf_from


def send(client, method, url, headers=None, data=b""):
    """Send a request to a signed storage URL: local ones to the app, S3 ones over HTTP (moto)."""
    if urlsplit(url).path.startswith("/_storage/"):
        response = client.open(url, method=method, headers=headers or {}, data=data)
        return response.status_code, response.headers, response.get_data()
    response = requests.request(method, url, headers=headers or {}, data=data, timeout=30)
    return response.status_code, response.headers, response.content


def start_upload(client, headers, name, data, content_type="application/octet-stream", **extra):
    return client.post("/api/v1/uploads", headers=headers,
                       json={"name": name, "size": len(data), "content_type": content_type, **extra})


def upload(client, headers, name, data, content_type="application/octet-stream", **extra):
    """The whole API flow: start, PUT the bytes to storage, complete. Returns the file JSON."""
    started = start_upload(client, headers, name, data, content_type, **extra)
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    status, _, _ = send(client, body["method"], body["url"], body["headers"], data)
    assert status == 200, status
    completed = client.post(f"/api/v1/uploads/{body['id']}/complete", headers=headers)
    assert completed.status_code == 200, completed.get_json()
    return completed.get_json()


def delete_for_good(client, headers, file_id):
    """Delete a file as it went before the trash: move it there, then purge it from there."""
    assert client.delete(f"/api/v1/files/{file_id}", headers=headers).status_code == 204
    response = client.post("/api/v1/trash/purge", headers=headers, json={"files": [file_id]})
    assert response.status_code == 204, response.get_json()
    return response


def write_directly(app, key, data):
    """Store bytes under a key behind the signed request's back (as a store that checks nothing would)."""
    storage = app.extensions["locker.storage"]
    if storage.name == "local":
        path = storage.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        storage.client.put_object(Bucket=storage.bucket, Key=key, Body=data)


def download(client, headers, file_id):
    """Follow the API's download redirect to storage; returns (status, headers, body)."""
    response = client.get(f"/api/v1/files/{file_id}/download", headers=headers)
    assert response.status_code == 302, response.get_json()
    return send(client, "GET", response.headers["Location"])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def start_multipart(client, headers, name, data, **extra):
    response = start_upload(client, headers, name, data, **extra)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert "multipart" in body, body
    return body


def part_bytes(data, part_size, number):
    return data[(number - 1) * part_size:number * part_size]


def send_parts(client, headers, upload, data, numbers, checksums=False):
    """Sign and PUT the given parts; returns {number: etag}."""
    part_size = upload["multipart"]["part_size"]
    body = {"numbers": numbers}
    if checksums:
        body["checksums"] = {str(n): sha256(part_bytes(data, part_size, n)) for n in numbers}
    signed = client.post(f"/api/v1/uploads/{upload['id']}/parts", headers=headers, json=body)
    assert signed.status_code == 200, signed.get_json()
    etags = {}
    for part in signed.get_json()["parts"]:
        status, response_headers, _ = send(client, "PUT", part["url"], part["headers"],
                                           part_bytes(data, part_size, part["number"]))
        assert status == 200, status
        etags[part["number"]] = response_headers["ETag"].strip('"')
    return etags


def complete_parts(client, headers, upload, etags, **extra):
    parts = [{"number": n, "etag": etags[n]} for n in sorted(etags)]
    return client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=headers, json={"parts": parts, **extra})


def upload_multipart(client, headers, name, data, checksums=False, **extra):
    """The whole multipart flow through the API; returns the file JSON."""
    upload = start_multipart(client, headers, name, data, part_checksums=checksums, **extra)
    numbers = list(range(1, upload["multipart"]["part_count"] + 1))
    etags = send_parts(client, headers, upload, data, numbers, checksums=checksums)
    completed = complete_parts(client, headers, upload, etags)
    assert completed.status_code == 200, completed.get_json()
    return completed.get_json()


def at_once(count, work):
    """Run work(number, start) in `count` real threads and return what each returned, in finishing order.

    Each thread calls start.wait() when it is ready, so what follows runs in all of them at once.
    """
    start = threading.Barrier(count, timeout=30)
    results = []
    threads = [threading.Thread(target=lambda number=number: results.append(work(number, start)))
               for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def admission_race(app, count, prepare, admit, refusal):
    """`count` threads, each with its own connection, try admit(prepare(), number) at once.

    Returns each one's outcome: "ok", "refused" (it raised `refusal`) or the repr of any other error,
    so a failure shows in the test's assertion instead of dying with its thread.
    """
    def attempt(number, start):
        with app.test_request_context():
            try:
                prepared = prepare()
                # Hand the connection back while waiting: that many idle transactions would exhaust the pool.
                db.session.commit()
                start.wait()
                admit(prepared, number)
                return "ok"
            except refusal:
                return "refused"
            except Exception as error:
                return repr(error)
            finally:
                db.session.remove()

    return at_once(count, attempt)


def row_names(html):
    """The names in a file list page's rows, in order."""
    return re.findall(r'<td class="name" data-label="Name">([^<]*)</td>', html)


def set_visible(client, headers, file_id, visible):
    return client.patch(f"/api/v1/files/{file_id}", headers=headers, json={"visible_to_everyone": visible})


def make_visible(client, headers, file):
    response = set_visible(client, headers, file["id"], True)
    assert response.status_code == 200, response.get_json()


def share(client, headers, file, **options):
    """A share link to `file` (its JSON), made through the API; returns the link's JSON."""
    response = client.post("/api/v1/shares", headers=headers, json={"file_id": file["id"], **options})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def path(share_json):
    return urlsplit(share_json["url"]).path


def visit_and_download(app, link_path, client=None):
    """What a recipient does: open the page, press Download. Returns (page response, download response)."""
    client = client or app.test_client()
    page = client.get(link_path)
    if page.status_code != 200:
        return page, None
    return page, client.post(f"{link_path}/download", data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def cursor(payload):
    """A list cursor as the API encodes one, around any payload (for forging odd ones)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@contextmanager
def recorded_sql():
    """The (statement, parameters) of every query the block sends to the database, in order."""
    executed = []

    def record(connection, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def walk_pages(client, headers, path, **query):
    """Every item of a keyset-paged API list, first page to last by next_cursor; no page holds more than `limit`."""
    items, cursor = [], None
    while True:
        response = client.get(path, headers=headers, query_string={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert len(body["items"]) <= query["limit"]
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def older_server(*paths):
    """Middleware making Locker answer as a release before `paths` existed: a 405 there."""
    def middleware(app):
        def wsgi(environ, start_response):
            if environ.get("PATH_INFO") in paths:
                body = json.dumps({"error": {"code": "method_not_allowed", "message": "not allowed"}}).encode()
                start_response("405 METHOD NOT ALLOWED", [("Content-Type", "application/json"),
                                                          ("Content-Length", str(len(body)))])
                return [body]
            return app(environ, start_response)
        return wsgi
    return middleware
