"""`make run HTTPS=1`: Locker under gunicorn serving https with the self-signed certificate made on first
start, which requests accepts when told to trust exactly that certificate."""
import hashlib
import os
import re
import secrets
import ssl

import requests

from tests.deploy.processes import HOST, Process, free_port


def test_make_run_https_serves_https_with_the_certificate_whose_fingerprint_it_printed(tmp_path):
    port = free_port()
    env = {**os.environ, "LOCKER_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'locker.db'}", "STORAGE_BACKEND": "local",
           "STORAGE_DIR": str(tmp_path / "storage"), "PUBLIC_URL": "", "S3_BUCKET": "", "REDIS_URL": "",
           "SECURE_COOKIES": ""}
    tls = tmp_path / "tls"
    server = Process("make-run", ["make", "--no-print-directory", "run", "HTTPS=1", f"HOST={HOST}", f"PORT={port}",
                                  f"TLS_DIR={tls}"], tmp_path, env)
    url = f"https://{HOST}:{port}"
    cert = str(tls / "cert.pem")
    try:
        server.wait_for_health(url, verify=cert)
        printed = re.search(r"fingerprint they show is\s+([0-9A-F:]{95})", server.log()).group(1)
        der = ssl.PEM_cert_to_DER_cert((tls / "cert.pem").read_text())
        assert printed == ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())
        assert f"{url}/setup/" in server.log()  # the first admin's link is an https one too

        with requests.Session() as browser:
            browser.verify, browser.trust_env = cert, False  # REQUESTS_CA_BUNDLE would override verify
            login = browser.get(f"{url}/login", timeout=30)
            assert login.status_code == 200
            cookies = login.raw.headers.getlist("Set-Cookie")
            assert cookies and all("; Secure" in cookie for cookie in cookies), cookies
        # Anyone who has not accepted this certificate is told it is not trusted, not served in the clear.
        try:
            requests.get(f"{url}/healthz", verify=True, timeout=30)
            raise AssertionError("a self-signed certificate was trusted without being named")
        except requests.exceptions.SSLError:
            pass
    finally:
        server.stop()
