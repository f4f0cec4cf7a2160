"""A folder link's "Download all" in headless Chromium: the zip is written as the bytes arrive, never held whole.

The folder has nested subfolders, non-ASCII names and one file of 300 MiB. The page asks Locker for a
list of signed URLs (counted as one download); the service worker fetches each file straight from
storage (Locker's own /_storage/ URLs, or across origins under the bucket's CORS rules on moto's S3 and on
SeaweedFS) and
streams the zip to the browser's download. Python's zipfile then checks every file's SHA-256, and the
JavaScript heaps of the page and of the worker, sampled all along, stay far below the big file's size.
"""
import base64
import hashlib
import io
import json
import random
import time
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from playwright.sync_api import expect

from app.extensions import db
from app.models import File, FileStatus, search_key
from app.services import folders, shares, tokens, users
from tests.browser_support import backend_settings, browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload
from tests.live_support import moto_server  # noqa: F401  (fixture)
from tests.seaweed_support import seaweedfs  # noqa: F401  (fixture)

MIB = 1024 * 1024
BIG = 300 * MIB
HEAP_LIMIT = 100 * MIB
SMALL = {
    "read me.txt": b"Photos from the trip\n" * 20,
    "Été 2024/plage – 日本.txt": "海と砂\n".encode() * 500,
    "Été 2024/Tag 2/straße.bin": random.Random(2).randbytes(3 * MIB + 17),
    "Été 2024/Tag 2/kurz.txt": b"x",
}


@pytest.fixture(params=["local", "s3", "seaweedfs"])
def zip_app(request, make_app, live_server):
    live_server.app = make_app(**backend_settings(request, live_server))
    return live_server.app


def write_big_file(app, user, folder, name, scratch):
    """A ready 300 MiB file in `folder`, its bytes written straight to storage from a fast pattern; its SHA-256."""
    block = random.Random(1).randbytes(MIB)
    digest = hashlib.sha256()
    key = f"u/{user.id}/{uuid.uuid4().hex}"
    storage = app.extensions["locker.storage"]

    def chunks():
        for number in range(BIG // MIB):
            chunk = number.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            yield chunk

    # Local storage: straight into place. S3: one PUT of a file on disk (moto's multipart completion of
    # parts this large fails in moto itself).
    path = storage.path_for(key) if storage.name == "local" else scratch / "big.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        for chunk in chunks():
            out.write(chunk)
    if storage.name != "local":
        # Not Locker's own client: its read timeout is made for serving requests, and a store under load may
        # take longer than that to take 300 MiB.
        meta = storage.client.meta
        patient = boto3.client("s3", endpoint_url=meta.endpoint_url, region_name=meta.region_name,
                               config=Config(signature_version="s3v4", read_timeout=600))
        with open(path, "rb") as body:
            patient.put_object(Bucket=storage.bucket, Key=key, Body=body)
        path.unlink()
    db.session.add(File(public_id=uuid.uuid4().hex, owner_id=user.id, name=name, search_name=search_key(name),
                        size=BIG, content_type="application/octet-stream", sha256=digest.hexdigest(),
                        sha256_verified=True, storage_key=key, status=FileStatus.READY, folder_id=folder.id))
    db.session.commit()
    return digest.hexdigest()


class HeapWatch:
    """Samples the JavaScript heap of the page (CDP on the page) and of every service worker (CDP targets)."""

    def __init__(self, browser, context, page):
        self.page_session = context.new_cdp_session(page)
        self.browser_session = browser.new_browser_cdp_session()
        self.replies, self.worker_sessions, self.next_id = {}, {}, 1
        self.browser_session.on("Target.receivedMessageFromTarget", self.received)
        self.page_peak = self.worker_peak = 0
        self.worker_samples = 0

    def received(self, event):
        message = json.loads(event["message"])
        if "id" in message:
            self.replies[message["id"]] = message.get("result", {})

    def sample(self):
        used = self.page_session.send("Runtime.getHeapUsage")["usedSize"]
        self.page_peak = max(self.page_peak, used)
        for target in self.browser_session.send("Target.getTargets")["targetInfos"]:
            if target["type"] != "service_worker":
                continue
            session = self.worker_sessions.get(target["targetId"])
            if session is None:
                session = self.browser_session.send("Target.attachToTarget",
                                                    {"targetId": target["targetId"], "flatten": False})["sessionId"]
                self.worker_sessions[target["targetId"]] = session
            self.next_id += 1
            self.browser_session.send("Target.sendMessageToTarget", {
                "sessionId": session, "message": json.dumps({"id": self.next_id, "method": "Runtime.getHeapUsage"})})
            for _ in range(50):
                if self.next_id in self.replies:
                    break
                self.page_session.send("Runtime.evaluate", {"expression": "1"})  # lets events arrive
                time.sleep(0.01)
            reply = self.replies.pop(self.next_id, None)
            if reply and "usedSize" in reply:
                self.worker_samples += 1
                self.worker_peak = max(self.worker_peak, reply["usedSize"])


def test_download_all_streams_a_zip_of_a_nested_folder_with_a_300_mib_file(browser, zip_app, live_server, tmp_path):
    with zip_app.app_context():
        user = users.create_user(f"zipper{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = zip_app.test_client()
        top = client.post("/api/v1/folders", headers=headers, json={"name": "Reise – Fotos"}).get_json()
        expected = {}
        for relative, data in SMALL.items():
            folder_path, _, name = relative.rpartition("/")
            upload(client, headers, name, data, folder=top["id"], sha256=hashlib.sha256(data).hexdigest(),
                   **({"path": folder_path} if folder_path else {}))
            expected[relative] = hashlib.sha256(data).hexdigest()
        deep = folders.upload_target(user, top["id"], "Été 2024/Tag 2")
        expected["Été 2024/Tag 2/großes Video.bin"] = write_big_file(zip_app, user, deep, "großes Video.bin", tmp_path)
        link = client.post("/api/v1/shares", headers=headers, json={"folder_id": top["id"], "max_downloads": 5})
        assert link.status_code == 201, link.get_json()
        url = link.get_json()["url"]

    context, page, errors = new_page(browser, live_server)
    try:
        page.goto(url)
        expect(page.get_by_role("heading", name="Reise – Fotos")).to_be_visible()
        for relative in expected:
            expect(page.locator(f'tr[data-path="{relative}"]')).to_have_count(1)
        heap = HeapWatch(browser, context, page)
        heap.sample()
        with page.expect_download(timeout=60_000) as started:
            page.get_by_role("button", name="Download all (zip)").click()
        download = started.value
        status = page.locator("[data-zip-status]")
        deadline = time.monotonic() + 600
        while not (status.text_content() or "").startswith("Downloaded") and time.monotonic() < deadline:
            heap.sample()
            assert "Could not" not in (status.text_content() or ""), status.text_content()
            time.sleep(0.2)
        heap.sample()
        assert (status.text_content() or "").startswith("Downloaded"), status.text_content()
        saved = tmp_path / "download.zip"
        download.save_as(saved)
        assert download.suggested_filename == "Reise – Fotos.zip"
        assert not errors, errors
    finally:
        context.close()

    assert saved.stat().st_size > BIG
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == sorted(expected)
        for name in expected:
            digest = hashlib.sha256()
            with archive.open(name) as member:
                while chunk := member.read(MIB):
                    digest.update(chunk)
            assert digest.hexdigest() == expected[name], name
    print(f"heap peaks: page {heap.page_peak / MIB:.1f} MiB, worker {heap.worker_peak / MIB:.1f} MiB "
          f"({heap.worker_samples} worker samples)")
    assert heap.worker_samples > 0, "the service worker's heap was never sampled"
    assert heap.page_peak < HEAP_LIMIT and heap.worker_peak < HEAP_LIMIT, (heap.page_peak, heap.worker_peak)
    with zip_app.app_context():
        assert db.session.execute(db.select(shares.Share.download_count)).scalar_one() == 1


def test_the_owner_downloads_a_folder_as_a_zip_from_its_share_page(browser, make_app, live_server, tmp_path):
    """The data-zip-folder hook: POST /api/v1/zip-list with the page's session, then the same streaming zip."""
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with live_server.app.app_context():
        user = users.create_user(f"owner{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = live_server.app.test_client()
        top = client.post("/api/v1/folders", headers=headers, json={"name": "Notizen"}).get_json()
        for relative, data in SMALL.items():
            folder_path, _, name = relative.rpartition("/")
            upload(client, headers, name, data, folder=top["id"], **({"path": folder_path} if folder_path else {}))

    context, page, errors = new_page(browser, live_server)
    try:
        log_in(page, username)
        expect(page).to_have_url(f"{live_server.url}/files")
        page.goto(f"/folders/{top['id']}/share")
        with page.expect_download() as started:
            page.get_by_role("button", name="Download as zip").click()
        expect(page.locator("[data-zip-status]")).to_have_text("Downloaded Notizen.zip.")
        saved = tmp_path / "owner.zip"
        started.value.save_as(saved)
        assert not errors, errors
    finally:
        context.close()
    with zipfile.ZipFile(saved) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            f"Notizen/{relative}": data for relative, data in SMALL.items()}


# Where no service worker may run, the zip goes to a file the person picks (File System Access API).
# Headless Chromium shows no picker, so the page's picker hands out a file of its origin-private file system.
PICK_A_PRIVATE_FILE = """
window.showSaveFilePicker = async (options) => {
  window.pickedName = options.suggestedName
  const folder = await navigator.storage.getDirectory()
  return folder.getFileHandle('picked.zip', { create: true })
}
"""
READ_PRIVATE_FILE = """async () => {
  const folder = await navigator.storage.getDirectory()
  const file = await (await folder.getFileHandle('picked.zip')).getFile()
  const bytes = new Uint8Array(await file.arrayBuffer())
  let text = ''
  for (let start = 0; start < bytes.length; start += 32768) {
    text += String.fromCharCode(...bytes.subarray(start, start + 32768))
  }
  return btoa(text)
}"""


def test_without_a_service_worker_the_zip_is_written_to_a_picked_file(browser, make_app, live_server):
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with live_server.app.app_context():
        user = users.create_user(f"picker{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = live_server.app.test_client()
        top = client.post("/api/v1/folders", headers=headers, json={"name": "Akten"}).get_json()
        for relative, data in SMALL.items():
            folder_path, _, name = relative.rpartition("/")
            upload(client, headers, name, data, folder=top["id"], **({"path": folder_path} if folder_path else {}))
        url = client.post("/api/v1/shares", headers=headers, json={"folder_id": top["id"]}).get_json()["url"]

    context, page, errors = new_page(browser, live_server, service_workers="block")
    try:
        context.add_init_script(PICK_A_PRIVATE_FILE)
        page.goto(url)
        page.get_by_role("button", name="Download all (zip)").click()
        expect(page.locator("[data-zip-status]")).to_have_text("Saved Akten.zip.", timeout=30_000)
        written = base64.b64decode(page.evaluate(READ_PRIVATE_FILE))
        assert page.evaluate("window.pickedName") == "Akten.zip"
        assert not errors, errors
    finally:
        context.close()
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == SMALL


def test_a_password_folder_link_asks_first_then_zips(browser, make_app, live_server, tmp_path):
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with live_server.app.app_context():
        user = users.create_user(f"locked{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = live_server.app.test_client()
        top = client.post("/api/v1/folders", headers=headers, json={"name": "Geheim"}).get_json()
        upload(client, headers, "plan.txt", b"the plan", folder=top["id"], path="Q3")
        url = client.post("/api/v1/shares", headers=headers,
                          json={"folder_id": top["id"], "password": "blue whale"}).get_json()["url"]

    context, page, errors = new_page(browser, live_server)
    try:
        page.goto(url)
        expect(page.get_by_role("heading", name="This link needs a password")).to_be_visible()
        expect(page.get_by_text("plan.txt")).to_have_count(0)
        page.get_by_label("Password").fill("blue whale")
        page.get_by_role("button", name="Unlock").click()
        expect(page.get_by_role("cell", name="Q3/plan.txt", exact=True)).to_be_visible()
        with page.expect_download() as started:
            page.get_by_role("button", name="Download all (zip)").click()
        expect(page.locator("[data-zip-status]")).to_have_text("Downloaded Geheim.zip.")
        saved = tmp_path / "locked.zip"
        started.value.save_as(saved)
        with page.expect_download() as one:
            page.get_by_role("button", name="Download Q3/plan.txt").click()
        assert one.value.suggested_filename == "plan.txt"
        assert not errors, errors
    finally:
        context.close()
    with zipfile.ZipFile(saved) as archive:
        assert archive.read("Q3/plan.txt") == b"the plan"
