"""nginx with TLS (deploy/nginx/locker.conf, rendered as an operator would) in front of two Locker app
servers under gunicorn in production mode: sign-in, an upload through local storage's signed PUT larger
than nginx's buffers, and downloads (whole and ranged), all over https."""
import os
import re
import shutil

import pytest
import requests

from app.lan_certificate import ensure_certificate
from scripts.render_template import render
from tests.conftest import PASSWORD
from tests.deploy.processes import (HOST, ROOT, Process, api_session, flask, free_port, gunicorn, production_env,
                                   upload_and_download)

# Many times nginx's default body and proxy buffers (16 KiB, 4-8 KiB), so nothing fits in one.
DATA = os.urandom(3 * 1024 * 1024 + 11)
USER = "alice"


def nginx_conf(folder, site):
    """A whole nginx.conf for a process of the test's own: every path it writes under `folder`."""
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log stderr notice;
{'user root;' if os.geteuid() == 0 else ''}
events {{ worker_connections 256; }}
http {{
    access_log {folder / 'access.log'};
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nginx")
    https_port, http_port, app_ports = free_port(), free_port(), [free_port(), free_port()]
    url = f"https://localhost:{https_port}"
    certificate = ensure_certificate(folder / "tls", ["localhost", HOST])
    env = production_env(folder, url, TRUST_PROXY="1", GUNICORN_WORKERS="1", GUNICORN_THREADS="4")
    flask(env, "db", "upgrade")
    flask(env, "locker", "create-user", USER, "--password", PASSWORD)
    processes = [gunicorn(folder, env, port, f"app{index}") for index, port in enumerate(app_ports)]
    try:
        for process, port in zip(processes, app_ports):
            process.wait_for_health(f"http://{HOST}:{port}")
        rendered = render((ROOT / "deploy" / "nginx" / "locker.conf").read_text(), {
            "SERVER_NAME": "localhost", "HTTPS_PORT": https_port, "HTTP_PORT": http_port,
            "TLS_CERT": certificate.cert_path, "TLS_KEY": certificate.key_path,
            "APP_SERVER_1": f"{HOST}:{app_ports[0]}", "APP_SERVER_2": f"{HOST}:{app_ports[1]}"})
        (folder / "locker.conf").write_text(rendered)
        (folder / "nginx.conf").write_text(nginx_conf(folder, folder / "locker.conf"))
        nginx = Process("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-e", "stderr", "-p", folder,
                                  "-c", folder / "nginx.conf"], folder)
        processes.append(nginx)
        nginx.wait_for_health(url, verify=str(certificate.cert_path))
        yield url, str(certificate.cert_path), http_port, processes
    finally:
        for process in reversed(processes):  # the proxy first, so it holds no connection to the apps
            process.stop()


def test_signing_in_over_https_sets_secure_cookies_and_locker_knows_it_is_https(site):
    url, cert, _, _ = site
    with requests.Session() as browser:
        browser.verify, browser.trust_env = cert, False  # REQUESTS_CA_BUNDLE would override verify
        page = browser.get(f"{url}/login", timeout=30)
        assert page.status_code == 200
        form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1),
                "username": USER, "password": PASSWORD}
        # Only on a request it knows came over https does Locker (Flask-WTF) insist on a same-site Referer.
        refused = browser.post(f"{url}/login", data=form, allow_redirects=False, timeout=30)
        assert refused.status_code == 302
        assert browser.get(f"{url}/files", allow_redirects=False, timeout=30).status_code == 302

        signed_in = browser.post(f"{url}/login", data=form, headers={"Referer": f"{url}/login"},
                                 allow_redirects=False, timeout=30)
        assert signed_in.status_code == 302, signed_in.text[:500]
        cookies = signed_in.raw.headers.getlist("Set-Cookie")
        assert cookies and all("; Secure" in cookie and "; HttpOnly" in cookie for cookie in cookies), cookies
        files = browser.get(f"{url}/files", allow_redirects=False, timeout=30)
        assert files.status_code == 200 and USER in files.text


def test_plain_http_is_sent_to_https(site):
    url, _, http_port, _ = site
    answer = requests.get(f"http://localhost:{http_port}/files?x=1", allow_redirects=False, timeout=30)
    assert answer.status_code == 301 and answer.headers["Location"] == f"{url}/files?x=1"


def test_a_large_upload_through_the_signed_put_downloads_byte_identical_whole_and_ranged(site):
    url, cert, _, processes = site
    with api_session(url, USER, PASSWORD, verify=cert) as client:
        _, signed, downloaded = upload_and_download(client, url, "big.bin", DATA)
    assert signed.startswith(f"{url}/")  # local storage's signed URL, through nginx
    assert downloaded == DATA
    start, stop = 1_000_000, 2_500_000
    ranged = requests.get(signed, verify=cert, headers={"Range": f"bytes={start}-{stop - 1}"}, timeout=120)
    assert ranged.status_code == 206 and ranged.content == DATA[start:stop]
    assert ranged.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    # The upstream spreads requests over both app servers.
    for app in processes[:2]:
        assert re.search(r'"(GET|POST|PUT) /(api/v1|_storage|login|files)', app.log()), app.log()
