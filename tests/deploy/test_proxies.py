"""The reverse proxies of deploy/ as real processes in front of two Locker app servers under gunicorn in
production mode: nginx with TLS (deploy/nginx/locker.conf, rendered as an operator would, with a
certificate the test makes) and Caddy (deploy/Caddyfile, with its own automatic certificate from its
local authority, as it does for localhost). Through each: sign-in, an upload through local storage's
signed PUT larger than nginx's buffers, and downloads (whole and ranged), all over https."""
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from app.lan_certificate import ensure_certificate
from scripts.render_template import render
from tests.conftest import PASSWORD
from tests.deploy.processes import (HOST, ROOT, Process, api_session, free_port, healthy_gunicorns,
                                   migrate_with_user, production_env, upload_and_download)

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


@dataclass
class Site:
    url: str
    ca: str  # the certificate to trust for it
    http_port: int
    apps: list
    logs_before: list  # how much each app server had logged when this proxy started
    access_log: Path | None  # the proxy's own access log (nginx's; Caddy keeps none by default)

    def app_logs(self):
        """What each app server logged since this proxy started."""
        return [app.log()[before:] for app, before in zip(self.apps, self.logs_before)]


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """Two app servers on one database and storage folder, expecting people at https://localhost:<port>."""
    folder = tmp_path_factory.mktemp("apps")
    https_port = free_port()
    env = production_env(folder, f"https://localhost:{https_port}", TRUST_PROXY="1", GUNICORN_WORKERS="1",
                         GUNICORN_THREADS="4")
    migrate_with_user(env, USER, PASSWORD)
    servers, app_ports = healthy_gunicorns(folder, env, ["app0", "app1"], excluding=[https_port])
    try:
        yield https_port, [f"{HOST}:{port}" for port in app_ports], servers
    finally:
        for server in servers:
            server.stop()


def start_nginx(folder, https_port, http_port, upstreams):
    certificate = ensure_certificate(folder / "tls", ["localhost", HOST])
    rendered = render((ROOT / "deploy" / "nginx" / "locker.conf").read_text(), {
        "SERVER_NAME": "localhost", "HTTPS_PORT": https_port, "HTTP_PORT": http_port,
        "TLS_CERT": certificate.cert_path, "TLS_KEY": certificate.key_path,
        "APP_SERVER_1": upstreams[0], "APP_SERVER_2": upstreams[1], "ACCESS_LOG": folder / "locker.access.log"})
    (folder / "locker.conf").write_text(rendered)
    (folder / "nginx.conf").write_text(nginx_conf(folder, folder / "locker.conf"))
    nginx = Process("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-e", "stderr", "-p", folder,
                              "-c", folder / "nginx.conf"], folder)
    return nginx, str(certificate.cert_path), folder / "locker.access.log"


def start_caddy(folder, https_port, http_port, upstreams):
    """deploy/Caddyfile as it is, imported after the global options a test needs: its own ports, no admin
    endpoint, and no attempt to add its authority to this machine's trust store."""
    (folder / "Caddyfile").write_text(f"""{{
\thttp_port {http_port}
\thttps_port {https_port}
\tadmin off
\tskip_install_trust
}}
import {ROOT / "deploy" / "Caddyfile"}
""")
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "XDG_DATA_HOME": str(folder),
           "XDG_CONFIG_HOME": str(folder), "LOCKER_DOMAIN": f"localhost:{https_port}",
           "LOCKER_UPSTREAMS": " ".join(upstreams)}
    caddy = Process("caddy", [shutil.which("caddy") or "/usr/bin/caddy", "run", "--config", folder / "Caddyfile",
                              "--adapter", "caddyfile"], folder, env)
    return caddy, str(folder / "caddy" / "pki" / "authorities" / "local" / "root.crt"), None


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def site(request, apps, tmp_path_factory):
    """One proxy at a time on the port the app servers expect."""
    https_port, upstreams, servers = apps
    folder = tmp_path_factory.mktemp(request.param)
    http_port = free_port(excluding=[https_port])  # not bound until the proxy starts
    start = start_nginx if request.param == "nginx" else start_caddy
    proxy, ca, access_log = start(folder, https_port, http_port, upstreams)
    url = f"https://localhost:{https_port}"
    logs_before = [len(server.log()) for server in servers]
    try:
        proxy.wait_until(lambda: Path(ca).exists(), "certificate")
        proxy.wait_for_health(url, verify=ca)
        yield Site(url, ca, http_port, servers, logs_before, access_log)
    finally:
        proxy.stop()


def test_signing_in_over_https_sets_secure_cookies_and_locker_knows_it_is_https(site):
    url, cert = site.url, site.ca
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


def test_browsers_get_http2(site):
    # curl, as requests speaks only HTTP/1.1; ALPN decides, as in a browser.
    answer = subprocess.run(["curl", "--silent", "--http2", "--cacert", site.ca, "--head", f"{site.url}/healthz"],
                            capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert answer.stdout.startswith("HTTP/2 200"), answer.stdout + answer.stderr


def test_plain_http_is_sent_to_https(site):
    answer = requests.get(f"http://localhost:{site.http_port}/files?x=1", allow_redirects=False, timeout=30)
    assert answer.status_code in (301, 308)
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.hostname) == ("https", "localhost")
    assert (location.path, location.query) == ("/files", "x=1")


def test_a_large_upload_through_the_signed_put_downloads_byte_identical_whole_and_ranged(site):
    url, cert = site.url, site.ca
    with api_session(url, USER, PASSWORD, verify=cert) as client:
        _, signed, downloaded = upload_and_download(client, url, "big.bin", DATA)
    assert signed.startswith(f"{url}/")  # local storage's signed URL, through nginx
    assert downloaded == DATA
    start, stop = 1_000_000, 2_500_000
    ranged = requests.get(signed, verify=cert, headers={"Range": f"bytes={start}-{stop - 1}"}, timeout=120)
    assert ranged.status_code == 206 and ranged.content == DATA[start:stop]
    assert ranged.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    # The upstream spreads requests over both app servers.
    for log in site.app_logs():
        assert re.search(r'"(GET|POST|PUT) /(api/v1|_storage|login|files)', log), log
    if site.access_log:
        # The proxy logged the download, and not its signature: the log holds no working link.
        signed_url = urlsplit(signed)
        logged = site.access_log.read_text()
        assert f'"GET {signed_url.path} HTTP/' in logged and signed_url.query
        assert signed_url.query not in logged and "?" not in logged, logged[-2000:]
