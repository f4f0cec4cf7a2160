"""Renaming a file: in the API, the pages, the client and the CLI, by the rules uploads follow.

A rename changes the name people see and search for; the stored bytes keep their key and the
file keeps its id, so its links, activity and preview follow it.
"""
import re
from urllib.parse import unquote

import pytest

from app.extensions import db
from app.models import AuditEvent, File, User
from app.services import files
from app.errors import Conflict
from tests.conftest import csrf_from
from tests.helpers import admission_race, download, path, row_names, share, upload, visit_and_download


@pytest.fixture
def app_settings():
    return {"BLOCKED_TYPES": [".exe"]}


def rename(client, headers, file_id, name, **more):
    return client.patch(f"/api/v1/files/{file_id}", headers=headers, json={"name": name, **more})


def stored(file_id):
    db.session.expire_all()
    return db.session.execute(db.select(File).filter_by(public_id=file_id)).scalar_one()


def test_a_renamed_file_keeps_its_bytes_links_and_activity(app, client, owner, headers):
    file = upload(client, headers, "draft.txt", b"the minutes\n", "text/plain")
    key = stored(file["id"]).storage_key
    link = share(client, headers, file)
    response = rename(client, headers, file["id"], "  Minutes 2026-12.txt ")
    assert response.status_code == 200
    assert response.get_json() == {**file, "name": "Minutes 2026-12.txt"}
    assert (stored(file["id"]).storage_key, stored(file["id"]).name) == (key, "Minutes 2026-12.txt")
    listed = client.get("/api/v1/files", headers=headers, query_string={"q": "minutes"}).get_json()["items"]
    assert [item["name"] for item in listed] == ["Minutes 2026-12.txt"]
    assert client.get("/api/v1/files", headers=headers, query_string={"q": "draft"}).get_json()["items"] == []
    page, through_link = visit_and_download(app, path(link))
    assert "Minutes 2026-12.txt" in page.get_data(as_text=True) and "draft.txt" not in page.get_data(as_text=True)
    assert through_link.status_code == 302
    events = client.get("/api/v1/activity", headers=headers, query_string={"file": file["id"]}).get_json()["items"]
    assert [(e["action"], e["file_name"], e["detail"]) for e in events if e["action"] != "share_download"] == [
        ("rename", "Minutes 2026-12.txt", "from draft.txt"), ("share_created", "draft.txt", None),
        ("upload", "draft.txt", None)]  # one file's history still, each event with the name it had then
    status, stored_headers, body = download(client, headers, file["id"])
    assert (status, body) == (200, b"the minutes\n")
    assert "Minutes 2026-12.txt" in unquote(stored_headers["Content-Disposition"]), "saved under its new name"


@pytest.mark.parametrize("name, words", [
    ("", "Length must be between 1 and 255"),
    ("   ", "Give the file a name."),
    ("a/b.txt", "can't contain any of"),
    ("bell\x07.txt", "control characters"),
    ("CON.txt", "reserved device name"),
    ("notes.", "can't end with a dot"),
    ("x" * 256, "Length must be between 1 and 255"),
    ("setup.exe", "files of type .exe are not accepted here"),
])
def test_names_uploads_refuse_are_refused_and_change_nothing(client, headers, name, words):
    file = upload(client, headers, "report.pdf", b"%PDF-1.4", "application/pdf")
    response = rename(client, headers, file["id"], name)
    assert response.status_code == 400, response.get_json()
    assert words in str(response.get_json()["error"]["message"])
    assert stored(file["id"]).name == "report.pdf"
    assert not db.session.execute(db.select(AuditEvent).filter_by(action="rename")).first()


def test_a_name_another_file_has_is_refused_not_numbered(client, headers):
    first = upload(client, headers, "a.txt", b"a")
    second = upload(client, headers, "b.txt", b"b")
    response = rename(client, headers, second["id"], "a.txt", visible_to_everyone=True)
    assert response.status_code == 409
    assert response.get_json()["error"] == {"code": "name_taken", "message": "This folder already has something named a.txt."}
    assert (stored(first["id"]).name, stored(second["id"]).name) == ("a.txt", "b.txt")
    assert stored(second["id"]).visible_to_everyone is False, "a refused rename changes nothing else either"
    assert rename(client, headers, second["id"], "b.txt").status_code == 200  # its own name: nothing to do
    assert not db.session.execute(db.select(AuditEvent).filter_by(action="rename")).first()


def test_only_the_owners_ready_files_can_be_renamed(client, headers, accounts):
    mine = upload(client, headers, "mine.txt", b"x")
    other = accounts.headers(accounts.create())
    assert rename(client, other, mine["id"], "taken.txt").status_code == 404
    client.patch(f"/api/v1/files/{mine['id']}", headers=headers, json={"visible_to_everyone": True})
    assert rename(client, other, mine["id"], "taken.txt").status_code == 404, "seeing a file is not owning it"
    pending = client.post("/api/v1/uploads", headers=headers, json={"name": "half.txt", "size": 5}).get_json()
    assert rename(client, headers, pending["id"], "whole.txt").status_code == 404
    assert client.patch(f"/api/v1/files/{mine['id']}", headers=headers, json={}).status_code == 400
    assert stored(mine["id"]).name == "mine.txt"


def test_two_files_renamed_to_one_name_at_once_never_share_it(app, client, headers, owner):
    ids = [upload(client, headers, f"{n}.txt", b"x")["id"] for n in range(6)]
    owner_id = owner.id  # read here: the threads have sessions of their own
    outcomes = admission_race(app, len(ids), lambda: db.session.get(User, owner_id),
                              lambda user, number: files.rename_file(user, ids[number], "final.txt"), Conflict)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    names = sorted(stored(file_id).name for file_id in ids)
    assert names.count("final.txt") == 1 and len(set(names)) == 6


def test_the_rename_page_renames_and_says_why_a_name_is_refused(app, accounts):
    client, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    taken = upload(client, headers, "taken.txt", b"t")
    file = upload(client, headers, "photo.jpg", b"jpeg", "image/jpeg")
    listed = client.get("/files?sort=name").get_data(as_text=True)
    assert f'href="/files/{file["id"]}/rename?next=/files?sort%3Dname" aria-label="Rename: photo.jpg">Rename</a>' \
        in listed, "the list's More menu offers it, to come back to the list as it was"
    view = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    rename_href = re.search(r'href="([^"]*/rename[^"]*)">Rename</a>', view).group(1)
    form = client.get(rename_href.replace("&amp;", "&"))
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and '<label for="name">New name</label>' in html and 'value="photo.jpg"' in html
    token = csrf_from(html)
    refused = client.post(f"/files/{file['id']}/rename", data={"csrf_token": token, "name": "taken.txt"})
    assert refused.status_code == 409 and "This folder already has something named taken.txt." in refused.get_data(as_text=True)
    bad = client.post(f"/files/{file['id']}/rename", data={"csrf_token": token, "name": "a|b.jpg"})
    assert bad.status_code == 400 and "can&#39;t contain any of" in bad.get_data(as_text=True)
    client.post(f"/files/{file['id']}/rename", data={"name": "holiday.jpg"})  # no CSRF token: refused
    assert stored(file["id"]).name == "photo.jpg"
    done = client.post(f"/files/{file['id']}/rename", data={"csrf_token": token, "name": "holiday.jpg",
                                                             "next": f"/files/{file['id']}/view"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/files/{file['id']}/view")
    page = client.get("/files").get_data(as_text=True)
    assert "Renamed photo.jpg to holiday.jpg." in page and sorted(row_names(page)) == ["holiday.jpg", "taken.txt"]
    away = client.post(f"/files/{file['id']}/rename", data={"csrf_token": token, "name": "x.jpg",
                                                             "next": "https://evil.example/"})
    assert away.headers["Location"].endswith("/files"), "next stays on this site"
    slanted = client.get(f"/files/{file['id']}/rename?next=/%5Cevil.example").get_data(as_text=True)
    assert "evil.example" not in slanted, "browsers read /\\host as //host"
    assert taken["name"] == "taken.txt"


def test_the_api_document_says_a_file_patch_must_change_something_and_may_be_refused_409(client, headers):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/files/{file_id}"]["patch"]
    schema = spec["components"]["schemas"][operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                                           .rsplit("/", 1)[1]]
    assert schema["anyOf"] == [{"required": ["name"]}, {"required": ["visible_to_everyone"]}, {"required": ["folder"]}]
    assert schema["properties"]["name"]["maxLength"] == 255 and "pattern" in schema["properties"]["name"]
    assert "409" in operation["responses"]
    file = upload(client, headers, "a.txt", b"a")
    assert client.patch(f"/api/v1/files/{file['id']}", headers=headers, json={}).status_code == 400
