"""The deployment test: Locker as it runs on a cloud host, every part a real process on this machine.

nginx terminates TLS (deploy/nginx/locker.conf, rendered as an operator renders it) in front of two
Locker app servers under gunicorn in production mode, which share a PostgreSQL database and Redis.
The files' bytes are in a SeaweedFS cluster that keeps every object on two volume servers; browsers
reach its S3 gateway through nginx as well (deploy/nginx/s3-gateway.conf, S3_PUBLIC_ENDPOINT_URL), as
they would on a host. Everything goes through https://, in Chromium and with requests.

The tests are one deployment's life, in order: a burst of wrong passwords over both app servers, a
browser journey during which one app server stops, a volume server stopped and started again, and a
backup (flask locker backup) restored into a new database, where `verify` finds every file's bytes.
"""
import hashlib
import random
import re
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from app.lan_certificate import ensure_certificate
from scripts.render_template import render
from scripts.seaweedfs import SeaweedCluster
from tests.browser_support import browser, log_in, watch  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.deploy.processes import (HOST, POSTGRES_URL, ROOT, Process, api_session, flask, free_ports,
                                   healthy_gunicorns, production_env, upload_and_download)
from tests.deploy.test_proxies import nginx_conf
from tests.helpers import at_once
from tests.scratch_db import scratch_postgres_database

MIB = 1024 * 1024
PART = 5 * MIB  # Uppy never cuts parts under 5 MiB
USER, TARGET = "alice", "bob"
BURST = 30


@dataclass
class Deployment:
    url: str  # https://localhost:PORT: nginx, in front of both app servers
    s3_url: str  # https://localhost:PORT: nginx, in front of the S3 gateway (S3_PUBLIC_ENDPOINT_URL)
    cert: str  # the certificate nginx serves, for requests to check
    apps: list  # the two gunicorn Processes
    app_urls: list  # their own http:// addresses, behind nginx
    store: SeaweedCluster
    env: dict
    folder: Path
    uploaded: dict = field(default_factory=dict)  # name: bytes of every file the tests uploaded

    def api(self, username=USER):
        return api_session(self.url, username, PASSWORD, verify=self.cert)


def site_conf(folder, certificate, ports, app_ports, gateway):
    """deploy/nginx/locker.conf and s3-gateway.conf, rendered with this machine's ports, as one site file."""
    values = {"SERVER_NAME": "localhost", "HTTPS_PORT": ports["https"], "HTTP_PORT": ports["http"],
              "TLS_CERT": certificate.cert_path, "TLS_KEY": certificate.key_path,
              "APP_SERVER_1": f"{HOST}:{app_ports[0]}", "APP_SERVER_2": f"{HOST}:{app_ports[1]}",
              "S3_SERVER_NAME": "localhost", "S3_HTTPS_PORT": ports["s3"], "S3_GATEWAY": gateway,
              "ACCESS_LOG": folder / "locker.access.log", "S3_ACCESS_LOG": folder / "s3.access.log"}
    site = folder / "site.conf"
    site.write_text("\n".join(render((ROOT / "deploy" / "nginx" / name).read_text(), values)
                              for name in ("locker.conf", "s3-gateway.conf")))
    return site


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, postgres_url, redis_url):
    folder = tmp_path_factory.mktemp("deployment")
    ports = dict(zip(("https", "http", "s3"), free_ports(3)))
    url, s3_url = f"https://localhost:{ports['https']}", f"https://localhost:{ports['s3']}"
    certificate = ensure_certificate(folder / "tls", ["localhost", HOST])
    store = SeaweedCluster(folder / "seaweedfs")
    processes = []
    try:
        store.start()
        env = production_env(
            folder, url, DATABASE_URL=postgres_url, REDIS_URL=redis_url, TRUST_PROXY="1", GUNICORN_WORKERS="1",
            GUNICORN_THREADS="8", **store.settings("locker-files"), S3_PUBLIC_ENDPOINT_URL=s3_url,
            S3_SEAWEEDFS_MASTER_URL=store.master_url,
            MULTIPART_THRESHOLD=str(PART), MULTIPART_PART_SIZE=str(PART),
            # Per hour: a fixed one-minute window crossed mid-burst would let up to twice the limit through.
            LOGIN_LIMIT_PER_ACCOUNT="5 per hour", LOGIN_LIMIT_PER_ADDRESS="1000 per hour")
        # A deploy's steps, as an operator runs them once before the app servers start.
        flask(env, "db", "upgrade")
        flask(env, "locker", "setup-storage")  # the bucket, and CORS rules for PUBLIC_URL's origin
        for username in (USER, TARGET):
            flask(env, "locker", "create-user", username, "--password", PASSWORD)
        apps, app_ports = healthy_gunicorns(folder, env, ["app-0", "app-1"], excluding=ports.values())
        processes.extend(apps)
        site = site_conf(folder, certificate, ports, app_ports, gateway=store.endpoint.removeprefix("http://"))
        (folder / "nginx.conf").write_text(nginx_conf(folder, site))
        nginx = Process("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-e", "stderr", "-p", folder,
                                  "-c", folder / "nginx.conf"], folder)
        processes.append(nginx)
        nginx.wait_for_health(url, verify=str(certificate.cert_path))
        yield Deployment(url, s3_url, str(certificate.cert_path), apps, [f"http://{HOST}:{port}" for port in app_ports],
                         store, env, folder)
    finally:
        for process in reversed(processes):  # the proxy first, so it holds no connection to the apps
            process.stop()
        store.stop()


def requests_to(app, path):
    """How many requests for `path` the app server's access log shows."""
    return len(re.findall(rf'"[A-Z]+ {re.escape(path)}', app.log()))


def test_a_burst_of_wrong_passwords_over_both_app_servers_gets_only_the_limit_checked(deployment):
    def guess(number, go):
        go.wait()
        return requests.post(f"{deployment.url}/api/v1/auth/token", json={"username": TARGET, "password": "wrong"},
                             verify=deployment.cert, timeout=60)

    responses = at_once(BURST, guess)
    # As on one instance: LOGIN_LIMIT_PER_ACCOUNT guesses are checked, the rest refused, wherever they land.
    assert sorted(response.status_code for response in responses) == [401] * 5 + [429] * (BURST - 5)
    assert all(requests_to(app, "/api/v1/auth/token") > 0 for app in deployment.apps)


def png(width, height):
    """A small, valid PNG image (grey), for the preview."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_a_browser_journey_over_https_that_one_app_server_leaves_half_way(deployment, browser, tmp_path):  # noqa: F811
    """Sign in, upload a small and a multipart file straight to the store, see the session on both app servers,
    lose one of them, then list, preview, download and share through the other; a fresh browser opens the link."""
    small, large = "diagram.png", "recording.bin"
    files = {small: png(64, 48), large: random.Random(14).randbytes(2 * PART + MIB + 7)}  # three parts
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    context = browser.new_context(base_url=deployment.url, ignore_https_errors=True, accept_downloads=True)
    context.set_default_timeout(30_000)
    errors = watch(context)
    failures = []  # what nginx or the store answered with 5xx, if anything
    context.on("response", lambda response: failures.append(f"{response.status} {response.url}")
               if response.status >= 500 else None)
    page = context.new_page()
    try:
        log_in(page, USER)
        expect(page).to_have_url(f"{deployment.url}/files")

        # Both files go up from the page straight to the store, the large one in parts.
        sent_to_store = []
        page.on("requestfinished", lambda request: sent_to_store.append(request.url)
                if request.method == "PUT" and request.url.startswith(deployment.s3_url) else None)
        page.locator("#uploader input[type=file]").first.set_input_files([str(tmp_path / name) for name in files])
        status_bar = page.locator("#uploader .uppy-StatusBar")
        expect(status_bar).to_have_class(re.compile(r"\bis-(complete|error)\b"), timeout=120_000)
        expect(status_bar, "the upload failed: " + " / ".join(
            page.locator("#uploader .uppy-Informer").all_inner_texts())).to_have_class(re.compile(r"\bis-complete\b"))
        assert sum("partNumber=" in url for url in sent_to_store) == 3, sent_to_store
        rows = page.locator("#file-table tbody tr")
        expect(rows).to_have_count(2)
        deployment.uploaded.update(files)

        # The session works on each app server by itself: one made it, the other honours it.
        cookies = "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in context.cookies())
        for app_url in deployment.app_urls:
            own = requests.get(f"{app_url}/files", headers={"Cookie": cookies}, allow_redirects=False, timeout=30)
            assert own.status_code == 200 and f"Account ({USER})" in own.text

        # One app server goes away; nginx sends everything to the other from now on.
        deployment.apps[0].stop()
        listed = {item["name"]: item for item in page.request.get("/api/v1/files").json()["items"]}
        for name, data in files.items():
            assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
        page.reload()
        expect(rows).to_have_count(2)

        page.goto(f"/files/{listed[small]['id']}/view")
        image = page.locator(".preview img")
        expect(image).to_be_visible()
        assert image.get_attribute("src").startswith(deployment.s3_url)
        page.wait_for_function("() => { const image = document.querySelector('.preview img');"
                               " return image.complete && image.naturalWidth === 64 }")

        page.goto("/files")
        with page.expect_download() as download_info:
            page.get_by_role("link", name=f"Download: {large}", exact=True).click()
        download = download_info.value
        assert download.url.startswith(deployment.s3_url) and download.suggested_filename == large
        assert Path(download.path()).read_bytes() == files[large]

        page.get_by_label(f"More: {large}", exact=True).click()
        page.get_by_role("link", name=f"Share: {large}", exact=True).click()
        page.get_by_label("Password (optional)").fill("blue whale")
        page.get_by_role("button", name="Create link").click()
        expect(page.get_by_role("heading", name="Link created")).to_be_visible()
        link = page.get_by_label("Share link").input_value()
        assert link.startswith(f"{deployment.url}/s/")

        stranger = browser.new_context(ignore_https_errors=True, accept_downloads=True)
        stranger.set_default_timeout(30_000)
        stranger_errors = watch(stranger)
        try:
            visit = stranger.new_page()
            visit.goto(link)
            visit.get_by_label("Password").fill("blue whale")
            visit.get_by_role("button", name="Unlock").click()
            expect(visit.get_by_role("heading", name=large)).to_be_visible()
            with visit.expect_download() as download_info:
                visit.get_by_role("button", name="Download").click()
            assert Path(download_info.value.path()).read_bytes() == files[large]
        finally:
            stranger.close()
        assert not stranger_errors, stranger_errors
    finally:
        context.close()
    assert not errors, errors
    assert not failures, failures
    assert requests_to(deployment.apps[1], "/files") > 0


def download_every_file(deployment, client):
    """Each listed file's bytes, fetched through its download redirect (a presigned URL on the store)."""
    fetched = {}
    for item in client.get(f"{deployment.url}/api/v1/files", timeout=30).json()["items"]:
        redirect = client.get(f"{deployment.url}/api/v1/files/{item['id']}/download", allow_redirects=False,
                              timeout=30)
        assert redirect.status_code == 302, redirect.text
        assert redirect.headers["Location"].startswith(deployment.s3_url)
        answer = requests.get(redirect.headers["Location"], verify=deployment.cert, timeout=120)
        assert answer.status_code == 200, (item["name"], answer.status_code, answer.text[:300])
        fetched[item["name"]] = answer.content
    return fetched


def test_with_a_volume_server_stopped_every_file_downloads_and_uploads_go_on_once_it_is_back(deployment):
    """While a copy is missing, health says storage is degraded and uploads get a quick 503 (S3_SEAWEEDFS_MASTER_URL
    lets Locker ask the master), yet every file downloads; once the server is back, uploads work again."""
    client = deployment.api()
    before = random.Random(2).randbytes(300_000)
    _, _, downloaded = upload_and_download(client, deployment.url, "before.bin", before)
    assert downloaded == before
    deployment.uploaded["before.bin"] = before

    deployment.store.stop_volume(0)
    try:
        # Health reuses the master's answer for a few seconds (REPLICATION_STATE_SECONDS).
        deployment.apps[1].wait_until(lambda: storage_state(deployment) == "degraded", "storage degraded")
        refused = client.post(f"{deployment.url}/api/v1/uploads", timeout=30,
                              json={"name": "while.bin", "size": 10, "content_type": "application/octet-stream"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "storage_read_only", refused.text
        assert download_every_file(deployment, client) == deployment.uploaded
    finally:
        deployment.store.start_volume(0)
    # The master learns of the server's return from its heartbeat; until then uploads are still refused.
    deployment.apps[1].wait_until(lambda: storage_state(deployment) == "ok", "storage ok again")

    after = random.Random(3).randbytes(300_000)
    _, _, downloaded = upload_and_download(client, deployment.url, "after.bin", after)
    assert downloaded == after
    deployment.uploaded["after.bin"] = after
    assert download_every_file(deployment, client) == deployment.uploaded
    # Browsers fetched those files through nginx with presigned URLs; its log keeps none of their signatures.
    logged = (deployment.folder / "s3.access.log").read_text()
    assert "GET /locker-files/" in logged and "X-Amz-" not in logged and "?" not in logged, logged[-2000:]


def storage_state(deployment):
    return requests.get(f"{deployment.url}/readyz", verify=deployment.cert, timeout=30).json()["storage"]


def test_a_backup_taken_while_locker_runs_restores_into_a_new_database_where_every_file_verifies(deployment):
    # One file of its own, so that run alone (deployment.uploaded empty otherwise) it still checks one.
    data = random.Random(4).randbytes(200_000)
    with deployment.api() as client:
        assert upload_and_download(client, deployment.url, "backed-up.bin", data)[2] == data
    deployment.uploaded["backed-up.bin"] = data
    backup = deployment.folder / "backup"
    flask(deployment.env, "locker", "backup", str(backup))
    with scratch_postgres_database(POSTGRES_URL) as new_database:
        restored = {**deployment.env, "DATABASE_URL": new_database}
        flask(restored, "locker", "restore", str(backup))
        checked = flask(restored, "locker", "verify", "--all")
        # Every file the deployment holds, read back from the store and checked against the restored rows.
        assert f"Checked {len(deployment.uploaded)}; 0 with problems." in checked, checked
        assert sorted(re.findall(r"^\w+ +\w+  (.+)$", checked, re.MULTILINE)) == sorted(deployment.uploaded)
