"""Two Locker instances on one PostgreSQL database, one Redis and one store, as two hosts behind a load
balancer run: a sign-in, a rate limit, an upload or a sweep begun on one is honoured by the other.

Each instance is gunicorn as `make run` starts it, in a process of its own; nothing is shared in memory.
"""
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from app.extensions import db
from app.models import AuditEvent, File, User, utcnow
from app.services import tokens, users
from tests.conftest import MULTIPART_SETTINGS, PART_SIZE, PASSWORD, csrf_from
from tests.deploy.conftest import control_app
from tests.deploy.processes import BIN, ROOT, HttpClient, instance_environment, locker_instances
from tests.helpers import (at_once, complete_parts, download, path, send, send_parts, share, start_multipart,
                           start_upload, upload)

BURST = 30
# Per hour: a burst crossing the start of a fixed one-minute window would see up to twice the limit.
LIMITS = {"LOGIN_LIMIT_PER_ACCOUNT": "5 per hour", "LOGIN_LIMIT_PER_ADDRESS": "1000 per hour",
          "SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK": "5 per hour",
          "SHARE_PASSWORD_LIMIT_PER_ADDRESS": "1000 per hour", "SHARE_PASSWORD_LIMIT_PER_LINK": "1000 per hour"}


@dataclass
class Instances:
    a: object
    b: object
    app: object  # in-process, on the same database and storage: makes users, reads rows
    env: dict

    def user(self):
        """A new account and API headers for it: (username, headers)."""
        username = f"m{uuid.uuid4().hex[:10]}"
        with self.app.app_context():
            _, secret = tokens.create_token(users.create_user(username, PASSWORD), "tests")
        return username, {"Authorization": f"Bearer {secret}"}

    def both(self):
        return (self.a, self.b)


@pytest.fixture(scope="module")
def instances(tmp_path_factory, postgres_url, redis_url):
    folder = tmp_path_factory.mktemp("instances")
    settings = {name: str(value) for name, value in {**LIMITS, **MULTIPART_SETTINGS}.items()}
    env = instance_environment(postgres_url, redis_url, folder, **settings)
    with locker_instances(2, folder, env) as (a, b):
        app = control_app(postgres_url, folder / "storage", **MULTIPART_SETTINGS)
        yield Instances(a, b, app, env)
        with app.app_context():
            db.engine.dispose()


def statuses(responses):
    return sorted(response.status_code for response in responses)


def test_a_session_made_on_one_instance_works_on_the_other_and_signing_out_ends_it_on_both(instances):
    username, _ = instances.user()
    browser = requests.Session()
    token = csrf_from(browser.get(f"{instances.a.url}/login", timeout=60).text)
    signed_in = browser.post(f"{instances.a.url}/login", data={"csrf_token": token, "username": username,
                                                               "password": PASSWORD}, allow_redirects=False, timeout=60)
    assert signed_in.status_code == 302, signed_in.text
    stolen = requests.Session()
    stolen.cookies.update(browser.cookies)

    page = browser.get(f"{instances.b.url}/files", allow_redirects=False, timeout=60)
    assert page.status_code == 200 and f"Account ({username})" in page.text
    assert stolen.get(f"{instances.a.url}/files", allow_redirects=False, timeout=60).status_code == 200

    signed_out = browser.post(f"{instances.b.url}/logout", data={"csrf_token": csrf_from(page.text)},
                              allow_redirects=False, timeout=60)
    assert signed_out.status_code == 302
    # A copy of the cookies kept from before is worthless on either instance: the session ended in the database.
    for instance in instances.both():
        refused = stolen.get(f"{instance.url}/files", allow_redirects=False, timeout=60)
        assert refused.status_code == 302 and "/login" in refused.headers["Location"]


def test_a_burst_of_wrong_passwords_split_across_instances_gets_only_the_limit_checked(instances):
    username, _ = instances.user()

    def guess(number, go):
        instance = instances.both()[number % 2]
        go.wait()
        return requests.post(f"{instance.url}/api/v1/auth/token", json={"username": username, "password": "wrong"},
                             timeout=60)

    responses = at_once(BURST, guess)
    # The same as on one instance (tests/test_limits_burst.py): LOGIN_LIMIT_PER_ACCOUNT checks, in total.
    assert statuses(responses) == [401] * 5 + [429] * (BURST - 5)
    with instances.app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter_by(
            action="sign_in_failed", actor_name=username)).scalar_one() == 5
    for instance in instances.both():
        late = requests.post(f"{instance.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                             timeout=60)
        assert late.status_code == 429 and late.json()["error"]["code"] == "rate_limited"


class LinkVisitor:
    """A recipient's browser on one instance: opens the link's page, then sends a password with its CSRF token."""

    def __init__(self, instance, link_path):
        self.client, self.link_path = HttpClient(instance.url), link_path

    def open(self):
        self.csrf = csrf_from(self.client.get(self.link_path).text)
        return self

    def unlock(self, password):
        return self.client.post(self.link_path, data={"csrf_token": self.csrf, "password": password})


def test_a_burst_of_link_password_guesses_split_across_instances_gets_only_the_limit_checked(instances):
    _, headers = instances.user()
    owner = HttpClient(instances.a.url)
    link_path = path(share(owner, headers, upload(owner, headers, "plans.txt", b"the plans\n"), password="right one"))
    visitors = [LinkVisitor(instances.both()[number % 2], link_path).open() for number in range(BURST)]

    def guess(number, go):
        go.wait()
        return visitors[number].unlock("guess")

    # A wrong password shows the form again (401); a refused one goes back to it with the reason (302).
    assert statuses(at_once(BURST, guess)) == [302] * (BURST - 5) + [401] * 5
    for instance in instances.both():
        visitor = LinkVisitor(instance, link_path).open()
        assert visitor.unlock("right one").status_code == 302
        assert "needs a password" in visitor.client.get(link_path).text  # still locked for this address


def test_an_upload_started_on_one_instance_completes_on_the_other(instances):
    _, headers = instances.user()
    on_a, on_b = HttpClient(instances.a.url), HttpClient(instances.b.url)
    data = random.Random(14).randbytes(3 * PART_SIZE + 11)

    started = start_upload(on_a, headers, "single.txt", b"one PUT").get_json()
    # The URL A signed is good on B too: the same secret key signs it, the same storage keeps it.
    on_b_url = instances.b.url + started["url"].removeprefix(instances.a.url)
    assert send(on_b, started["method"], on_b_url, started["headers"], b"one PUT")[0] == 200
    single = on_b.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert single.status_code == 200, single.text

    multipart = start_multipart(on_a, headers, "parts.bin", data)
    etags = send_parts(on_a, headers, multipart, data, [1])
    etags.update(send_parts(on_b, headers, multipart, data, [2, 3, 4]))
    listed = on_b.get(f"/api/v1/uploads/{multipart['id']}/parts", headers=headers).json()["parts"]
    assert [part["number"] for part in listed] == [1, 2, 3, 4]
    completed = complete_parts(on_b, headers, multipart, etags)
    assert completed.status_code == 200, completed.text

    for client in (on_a, on_b):
        assert download(client, headers, started["id"])[2] == b"one PUT"
        assert download(client, headers, multipart["id"])[2] == data


def sweep_at_once(env, folder):
    """`flask locker sweep` on two hosts (two processes) released together once both are loaded;
    their outputs, after checking that the two sweeps overlapped in time."""
    command = [str(BIN / "python"), "-m", "tests.deploy.sweep_together", str(folder)]
    hosts = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not all((folder / str(host.pid)).exists() for host in hosts):
            assert all(host.poll() is None for host in hosts), [host.communicate() for host in hosts]
            assert time.monotonic() < deadline, "both sweeps ready to begin within 120 s"
            time.sleep(0.05)
        (folder / "go").touch()
        outputs = [host.communicate(timeout=300) for host in hosts]
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
                host.wait()
    for host, (out, err) in zip(hosts, outputs):
        assert host.returncode == 0 and "Traceback" not in err, f"{out}\n{err}"
    (began_a, ended_a), (began_b, ended_b) = [map(float, (folder / f"{host.pid}.times").read_text().split())
                                              for host in hosts]
    assert max(began_a, began_b) < min(ended_a, ended_b), "the two sweeps ran at the same time"
    return [out for out, _ in outputs]


def count(label, output):
    return int(re.search(rf"^{re.escape(label)}: (\d+)$", output, re.MULTILINE).group(1))


def test_sweep_on_two_hosts_at_once_handles_each_item_once(instances, tmp_path):
    """Expired uploads (single and multipart, bytes sent) and old trash: each cancelled or purged by one sweep,
    its space given back once, its bytes gone, nothing left over and no error on either host."""
    _, headers = instances.user()
    client = HttpClient(instances.a.url)
    data = random.Random(7).randbytes(2 * PART_SIZE + 5)
    kept = upload(client, headers, "kept.txt", b"stays")
    stale = []
    for number in range(40):
        started = start_upload(client, headers, f"stale{number}.txt", b"abc").get_json()
        send(client, started["method"], started["url"], started["headers"], b"abc")
        stale.append(started["id"])
    for number in range(10):
        multipart = start_multipart(client, headers, f"stale{number}.bin", data)
        send_parts(client, headers, multipart, data, [1])
        stale.append(multipart["id"])
    trashed = [upload(client, headers, f"old{number}.txt", b"old bytes")["id"] for number in range(40)]
    assert client.post("/api/v1/trash", headers=headers, json={"files": trashed}).status_code == 204
    with instances.app.app_context():
        owner_id = db.session.execute(db.select(File.owner_id).filter_by(public_id=kept["id"])).scalar_one()
        keys = list(db.session.execute(db.select(File.storage_key).filter(
            File.public_id.in_(stale + trashed))).scalars())
        long_ago = utcnow() - timedelta(days=31)
        db.session.execute(db.update(File).where(File.public_id.in_(stale)).values(created_at=long_ago))
        db.session.execute(db.update(File).where(File.public_id.in_(trashed)).values(trashed_at=long_ago))
        db.session.commit()

    outputs = sweep_at_once(instances.env, tmp_path)

    assert sum(count("Expired uploads cancelled", output) for output in outputs) == len(stale)
    assert sum(count("Trash items older than TRASH_RETENTION deleted", output) for output in outputs) == len(trashed)
    with instances.app.app_context():
        assert db.session.execute(db.select(File.public_id).filter(File.owner_id == owner_id)).scalars().all() == \
            [kept["id"]]
        assert db.session.get(User, owner_id).used_bytes == len(b"stays")
        purges = db.session.execute(db.select(AuditEvent.file_name).filter_by(
            owner_id=owner_id, action="purge")).scalars().all()
        assert sorted(purges) == sorted(f"old{number}.txt" for number in range(40))
        storage = instances.app.extensions["locker.storage"]
        assert [key for key in keys if storage.stat(key) is not None] == []
    assert download(client, headers, kept["id"])[2] == b"stays"
