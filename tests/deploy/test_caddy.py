"""deploy/Caddyfile as Caddy reads it: automatic HTTPS, both app servers, bodies streamed both ways.

test_proxies.py runs it in front of Locker; this checks the settings no request there would notice."""
import json
import shutil
import subprocess

from tests.deploy.processes import ROOT

CADDYFILE = ROOT / "deploy" / "Caddyfile"
UPSTREAMS = ["127.0.0.1:8000", "10.0.0.12:8000"]


def caddy(tmp_path, command):
    """Run `caddy COMMAND` on the Caddyfile with the example's two upstreams."""
    # Caddy keeps certificates and state under HOME/XDG folders: the test's own.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path), "LOCKER_DOMAIN": "files.example.org",
           "LOCKER_UPSTREAMS": " ".join(UPSTREAMS)}
    return subprocess.run([shutil.which("caddy") or "/usr/bin/caddy", command, "--config", str(CADDYFILE),
                           "--adapter", "caddyfile"], env=env, capture_output=True, text=True, timeout=120)


def test_the_site_gets_automatic_https_and_streams_to_both_app_servers(tmp_path):
    adapted = caddy(tmp_path, "adapt")
    assert adapted.returncode == 0, adapted.stderr
    server = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"] and "automatic_https" not in server
    route = server["routes"][0]
    assert route["match"] == [{"host": ["files.example.org"]}]
    proxy = next(handler for handler in route["handle"][0]["routes"][0]["handle"]
                 if handler["handler"] == "reverse_proxy")
    assert [upstream["dial"] for upstream in proxy["upstreams"]] == UPSTREAMS
    assert proxy["flush_interval"] == -1
    assert "request_buffers" not in proxy
