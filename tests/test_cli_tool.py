"""The `locker` command against a live Locker: exit codes, one-line errors, stable --json, no-TTY output.

Most runs go through click's CliRunner (in-process, no terminal); two run the
installed `locker` script as a subprocess, once with pipes (no progress bars,
no control codes) and once with stderr on a pseudo-terminal (progress bars).
The login is kept under a temporary LOCKER_CONFIG_DIR, unfinished uploads under
LOCKER_STATE_DIR.
"""
from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from locker_client import AuthenticationError, Locker
from locker_client import cli as cli_module
from locker_client.cli import cli
from tests.conftest import MULTIPART_SETTINGS, PASSWORD
from tests.live_support import Live, live, local_live, moto_server, start_live  # noqa: F401  (fixtures)
from tests.test_client import LARGE, SMALL, FaultyStorage, closed_port_url, session_with, sha, without_share_links, write

FILE_KEYS = {"id", "name", "size", "content_type", "created_at", "sha256", "sha256_verified",
             "preview", "visible_to_everyone", "owner", "guest_name", "request", "folder", "path"}
SHARE_KEYS = {"id", "url", "file_id", "file_name", "state", "created_at", "expires_at", "has_password",
              "max_downloads", "download_count", "last_download_at", "note"}
LOCKER_SCRIPT = Path(sys.executable).parent / "locker"


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    return {"config": tmp_path / "config", "state": tmp_path / "state", "work": tmp_path / "work"}


@pytest.fixture
def run(dirs):
    """Run `locker ARGS…` in-process with a private config and state dir; returns click's Result."""
    dirs["work"].mkdir()

    def invoke(*args: str, input: str | None = None, url: str | None = None, token: str | None = None) -> Result:
        env = {"LOCKER_CONFIG_DIR": str(dirs["config"]), "LOCKER_STATE_DIR": str(dirs["state"]),
               "LOCKER_URL": url, "LOCKER_TOKEN": token, "NO_COLOR": None, "FORCE_COLOR": None}
        return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def one_error_line(result: Result) -> str:
    """The failure's stderr: exactly one line, starting 'locker: ', no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line not in ("Username: ", "Password: ")]
    assert len(lines) == 1 and lines[0].startswith("locker: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_login_stores_a_private_token_whoami_and_logout_revoke_it(local_live: Live, run, dirs) -> None:
    username, _ = local_live.user()
    result = run("login", local_live.url + "/", input=f"{username}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output, "the password is never echoed"
    config = dirs["config"] / "config.json"
    assert f"Logged in to {local_live.url} as {username}. Token saved in {config}." in result.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(dirs["config"].stat().st_mode) == 0o700
    stored = json.loads(config.read_text())
    assert stored["url"] == local_live.url and stored["username"] == username
    assert stored["token"].startswith("lk_") and PASSWORD not in config.read_text()

    whoami = run("whoami", "--json")
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.stdout) == {"url": local_live.url, "username": username, "is_admin": False,
                                         "used_bytes": 0, "quota_bytes": None, "remaining_bytes": None,
                                             "multipart_threshold": MULTIPART_SETTINGS["MULTIPART_THRESHOLD"]}
    plain = run("whoami")
    assert plain.stdout == f"{username} at {local_live.url}: 0 bytes used\n"
    elsewhere = closed_port_url()  # the stored token is never sent to another server
    assert one_error_line(run("whoami", url=elsewhere)) == \
        f"locker: not logged in to {elsewhere}: run `locker login {elsewhere}` (or set LOCKER_TOKEN)"

    # Logging in again replaces the stored token and revokes the old one.
    again = run("login", local_live.url, "--username", username, input=f"{PASSWORD}\n")
    assert again.exit_code == 0, again.output
    with Locker(local_live.url, token=stored["token"]) as old, pytest.raises(AuthenticationError):
        old.me()
    token = json.loads(config.read_text())["token"]

    out = run("logout")
    assert out.exit_code == 0 and out.stdout == f"Logged out of {local_live.url}.\n"
    assert not config.exists()
    with Locker(local_live.url, token=token) as lk, pytest.raises(AuthenticationError):
        lk.me()
    assert "run `locker login URL` first" in one_error_line(run("whoami"))


def test_login_failures_are_one_clear_line(local_live: Live, run, dirs) -> None:
    username, _ = local_live.user()
    wrong = one_error_line(run("login", local_live.url, "-u", username, input="not the password\n"))
    assert wrong == "locker: Wrong username or password."
    closed = closed_port_url()
    assert one_error_line(run("login", closed, "-u", username, input=f"{PASSWORD}\n")) == \
        f"locker: could not reach Locker at {closed}: connection refused"
    assert "not a Locker address" in one_error_line(run("login", "localhost:5000", "-u", "x", input="y\n"))
    assert not (dirs["config"] / "config.json").exists()


def test_upload_ls_download_rm_with_json_output(live: Live, run, dirs) -> None:
    _, token = live.user()
    folder = dirs["work"] / "holiday"
    (folder / "raw").mkdir(parents=True)
    write(folder, "notes.txt", SMALL)
    write(folder / "raw", "clip.bin", LARGE)  # multipart

    refused = one_error_line(run("upload", str(folder), url=live.url, token=token))
    assert refused == f"locker: {folder} is a folder; add --recursive to upload what is in it"

    uploaded = run("upload", str(folder), "--recursive", "--json", url=live.url, token=token)
    assert uploaded.exit_code == 0, uploaded.output
    assert "\x1b" not in uploaded.output and uploaded.stderr == "", "no progress bars without a terminal"
    files = json.loads(uploaded.stdout)
    assert [set(f) for f in files] == [FILE_KEYS, FILE_KEYS]
    assert [(f["name"], f["size"], f["sha256"]) for f in files] == [
        ("notes.txt", len(SMALL), sha(SMALL)), ("clip.bin", len(LARGE), sha(LARGE))]

    assert [(f["path"], f["folder"] is not None) for f in files] == [("holiday", True), ("holiday/raw", True)]

    # The folder's tree is in Locker: ls lists a folder's folders, then its files.
    root = json.loads(run("ls", "--json", url=live.url, token=token).stdout)
    assert [(item["kind"], item["name"], item["path"], item["files"]) for item in root] == [
        ("folder", "holiday", "holiday", 2)]
    listed = run("ls", "holiday", "--json", "--sort", "name", url=live.url, token=token)
    assert listed.exit_code == 0
    raw, *rest = json.loads(listed.stdout)
    assert (raw["kind"], raw["name"], raw["path"], raw["size"]) == ("folder", "raw", "holiday/raw", len(LARGE))
    assert rest == [{"kind": "file", **files[0]}]
    assert json.loads(run("ls", "holiday/raw", "--json", url=live.url, token=token).stdout) == [
        {"kind": "file", **files[1]}]
    plain = run("ls", "holiday", url=live.url, token=token)
    assert plain.stdout.splitlines() == [f"{raw['id']}\t{len(LARGE)}\t{raw['created_at']}\traw/",
                                         f"{files[0]['id']}\t{len(SMALL)}\t{files[0]['created_at']}\tnotes.txt"]

    out = dirs["work"] / "out"
    got = run("download", "clip.bin", "-o", f"{out}/", "--json", url=live.url, token=token)  # by name
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout) == {"path": str(out / "clip.bin"), "file": files[1]}
    assert (out / "clip.bin").read_bytes() == LARGE
    exists = one_error_line(run("download", files[1]["id"], "-o", str(out / "clip.bin"), url=live.url, token=token))
    assert exists == f"locker: {out / 'clip.bin'} already exists; add --force to replace it"
    forced = run("download", files[0]["id"], "-o", str(out / "clip.bin"), "--force", url=live.url, token=token)
    assert forced.exit_code == 0 and forced.stdout.startswith("saved notes.txt to ")
    assert "SHA-256 checked" in forced.stdout and (out / "clip.bin").read_bytes() == SMALL
    assert "no file with the id or name 'nothing.txt'" in one_error_line(
        run("download", "nothing.txt", url=live.url, token=token))

    removed = run("rm", files[0]["id"], files[1]["id"], url=live.url, token=token)
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == f"moved {files[0]['id']} to the trash\nmoved {files[1]['id']} to the trash\n"
    assert [item["name"] for item in json.loads(run("ls", "holiday", "--json", url=live.url, token=token).stdout)] \
        == ["raw"]
    assert one_error_line(run("rm", files[0]["id"], url=live.url, token=token)) == \
        f"locker: no file or folder '{files[0]['id']}' (see `locker ls`)"

    # Like download and share, rm takes an exact name too.
    draft = write(dirs["work"], "old draft.txt", SMALL)
    assert run("upload", str(draft), url=live.url, token=token).exit_code == 0
    by_name = run("rm", "old draft.txt", url=live.url, token=token)
    assert by_name.exit_code == 0 and by_name.stdout == "moved old draft.txt to the trash\n"
    assert [item["name"] for item in json.loads(run("ls", "--json", url=live.url, token=token).stdout)] == ["holiday"]
    assert one_error_line(run("rm", "old draft.txt", url=live.url, token=token)) == \
        "locker: no file or folder 'old draft.txt' (see `locker ls`)"


def test_publish_then_others_find_it_with_ls_search_and_everyone(local_live: Live, run, dirs) -> None:
    alice, alice_token = local_live.user()
    bob, bob_token = local_live.user()
    uploaded = run("upload", str(write(dirs["work"], "Team plan.txt", b"the plan\n")), "--json",
                   url=local_live.url, token=alice_token)
    plan = json.loads(uploaded.stdout)[0]
    assert (plan["owner"], plan["visible_to_everyone"], plan["preview"]) == (alice, False, "text")
    published = run("publish", "Team plan.txt", url=local_live.url, token=alice_token)  # by name
    assert published.exit_code == 0 and published.stdout == "Team plan.txt is now visible to everyone\n"
    mine = run("upload", str(write(dirs["work"], "Another plan.txt", b"mine")), "--json", url=local_live.url,
               token=bob_token)
    draft = json.loads(mine.stdout)[0]

    # Tab-separated as for `ls`, with the owner added: a search and --everyone can list others' files.
    everyone = run("ls", "--everyone", url=local_live.url, token=bob_token)
    assert everyone.stdout.splitlines() == [
        f"{plan['id']}\t{plan['size']}\t{plan['created_at']}\tTeam plan.txt\t{alice}"]
    found = json.loads(run("ls", "--search", "PLAN", "--sort", "name", "--json", url=local_live.url,
                           token=bob_token).stdout)
    assert [(f["name"], f["owner"], f["visible_to_everyone"]) for f in found] == [
        ("Another plan.txt", bob, False), ("Team plan.txt", alice, True)]
    assert [set(f) for f in found] == [FILE_KEYS | {"kind"}, FILE_KEYS | {"kind"}]
    assert [f["id"] for f in json.loads(run("ls", "--json", url=local_live.url, token=bob_token).stdout)] == \
        [draft["id"]], "plain ls lists only your own files"

    refused = one_error_line(run("unpublish", plan["id"], url=local_live.url, token=bob_token))
    assert refused == f"locker: {plan['id']}: No such file.", "only the owner changes who sees a file"
    private = run("unpublish", plan["id"], url=local_live.url, token=alice_token)
    assert private.exit_code == 0 and private.stdout == "Team plan.txt is now private\n"
    assert json.loads(run("ls", "--everyone", "--json", url=local_live.url, token=bob_token).stdout) == []
    assert one_error_line(run("publish", "nothing.txt", url=local_live.url, token=alice_token)) == \
        "locker: no file with the id or name 'nothing.txt' (see `locker ls`)"


def test_rename_by_id_or_name_and_a_name_in_use_is_refused(local_live: Live, run, dirs) -> None:
    _, token = local_live.user()
    for name in ("scan.pdf", "taken.pdf"):
        assert run("upload", str(write(dirs["work"], name, b"%PDF")), url=local_live.url, token=token).exit_code == 0
    renamed = run("rename", "scan.pdf", "Passport scan.pdf", url=local_live.url, token=token)
    assert renamed.exit_code == 0 and renamed.stdout == "renamed scan.pdf to Passport scan.pdf\n"
    refused = run("rename", "taken.pdf", "Passport scan.pdf", url=local_live.url, token=token)
    assert refused.exit_code == 1 and one_error_line(refused) == "locker: This folder already has something named Passport scan.pdf."
    listed = json.loads(run("ls", "--json", "--sort", "name", url=local_live.url, token=token).stdout)
    as_json = json.loads(run("rename", listed[0]["id"], "passport.pdf", "--json", url=local_live.url,
                             token=token).stdout)
    assert {"kind": "file", **as_json} == {**listed[0], "name": "passport.pdf"} and set(as_json) == FILE_KEYS


def test_download_by_name_finds_a_file_shared_with_everyone(local_live: Live, run, dirs) -> None:
    alice, alice_token = local_live.user()
    carol, carol_token = local_live.user()
    _, bob_token = local_live.user()
    for owner, token in ((alice, alice_token), (carol, carol_token)):
        run("upload", str(write(dirs["work"], "Team plan.txt", f"{owner}'s plan\n".encode())), url=local_live.url,
            token=token)
    run("publish", "Team plan.txt", url=local_live.url, token=alice_token)
    out = dirs["work"] / "got"

    got = run("download", "Team plan.txt", "-o", f"{out}/", "--json", url=local_live.url, token=bob_token)
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["file"]["owner"] == alice
    assert (out / "Team plan.txt").read_bytes() == f"{alice}'s plan\n".encode()

    run("publish", "Team plan.txt", url=local_live.url, token=carol_token)
    assert one_error_line(run("download", "Team plan.txt", "-o", f"{out}/", "--force", url=local_live.url,
                              token=bob_token)) == \
        "locker: 2 files are named 'Team plan.txt'; give the id instead (see `locker ls --everyone`)"


def connect_through(monkeypatch, live: Live, token: str, dirs, transport: FaultyStorage, **options) -> None:
    """Have the CLI's client send through `transport` (to break or count parts), remembering uploads in dirs."""
    monkeypatch.setattr(cli_module, "connect", lambda workers=4: Locker(
        live.url, token=token, session=session_with(transport), state_dir=dirs["state"], **options))


def test_an_interrupted_cli_upload_resumes_when_run_again(local_live: Live, run, dirs, monkeypatch) -> None:
    _, token = local_live.user()
    path = write(dirs["work"], "disk.img", LARGE)
    broken = FaultyStorage(fail_parts={3})
    connect_through(monkeypatch, local_live, token, dirs, broken, retries=0)
    failed = one_error_line(run("upload", str(path)))
    assert failed.startswith(f"locker: {path}: upload of disk.img stopped with ")
    assert failed.endswith("run it again to send the rest.")

    healthy = FaultyStorage()
    connect_through(monkeypatch, local_live, token, dirs, healthy)
    resumed = run("upload", str(path), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert 3 in healthy.put_parts and 1 not in healthy.put_parts, "parts already stored are not sent again"
    assert json.loads(resumed.stdout)[0]["sha256"] == sha(LARGE)


def test_unfinished_uploads_are_listed_and_can_be_cancelled(local_live: Live, run, dirs, monkeypatch) -> None:
    _, token = local_live.user()
    path = write(dirs["work"], "abandoned.img", LARGE)
    broken = FaultyStorage(fail_parts={3})
    connect_through(monkeypatch, local_live, token, dirs, broken, retries=0)
    assert run("upload", str(path)).exit_code == 1
    monkeypatch.undo()

    pending = json.loads(run("uploads", "--json", url=local_live.url, token=token).stdout)
    assert [item["name"] for item in pending] == ["abandoned.img"] and pending[0]["parts"]
    listed = run("uploads", url=local_live.url, token=token).stdout.split("\t")
    assert listed[0] == pending[0]["id"] and listed[2].endswith(f"/{pending[0]['multipart']['part_count']} parts")
    assert json.loads(run("whoami", "--json", url=local_live.url, token=token).stdout)["used_bytes"] == len(LARGE)

    cancelled = run("cancel", pending[0]["id"], url=local_live.url, token=token)
    assert cancelled.exit_code == 0 and cancelled.stdout == f"cancelled {pending[0]['id']}\n"
    assert json.loads(run("uploads", "--json", url=local_live.url, token=token).stdout) == []
    assert json.loads(run("whoami", "--json", url=local_live.url, token=token).stdout)["used_bytes"] == 0
    assert one_error_line(run("cancel", pending[0]["id"], url=local_live.url, token=token)) == \
        "locker: No such upload."


def test_failures_exit_non_zero_with_one_line(local_live: Live, run) -> None:
    _, token = local_live.user()
    _, expired = local_live.user(expired=True)
    for bad in ("lk_nope", expired):
        line = one_error_line(run("ls", url=local_live.url, token=bad))
        assert line.startswith("locker: That API token is not valid: it may be mistyped, expired or revoked.")
        assert "LOCKER_TOKEN was refused; run `locker login URL`" in line
    closed = closed_port_url()
    assert one_error_line(run("whoami", url=closed, token=token)) == \
        f"locker: could not reach Locker at {closed}: connection refused"
    assert "not logged in" in one_error_line(run("ls", url=local_live.url))
    assert run("upload", url=local_live.url, token=token).exit_code == 2, "usage mistakes exit 2"
    assert run("share", "x", "--expires", "soon", url=local_live.url, token=token).exit_code == 2


def test_share_commands_on_a_server_without_share_links(make_app, request, run, dirs) -> None:
    old = start_live(request, make_app, "local", middleware=without_share_links)
    _, token = old.user()
    file_id = json.loads(run("upload", str(write(dirs["work"], "a.txt", b"hi")), "--json",
                             url=old.url, token=token).stdout)[0]["id"]
    for args in (["share", file_id, "--expires", "7d", "--max-downloads", "3"], ["shares"], ["revoke", "0" * 32]):
        assert one_error_line(run(*args, url=old.url, token=token)) == \
            "locker: this Locker server does not support share links yet"


def test_share_shares_and_revoke(local_live: Live, run, dirs) -> None:
    _, token = local_live.user()
    file = json.loads(run("upload", str(write(dirs["work"], "plan.txt", b"the plan")), "--json",
                          url=local_live.url, token=token).stdout)[0]
    made = run("share", file["id"], "--expires", "7d", "--password", "--max-downloads", "2", "--note", "hi",
               input="secret pw\nsecret pw\n", url=local_live.url, token=token)
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith(f"{local_live.url}/s/") and made.stdout.count("\n") == 1
    assert "secret pw" not in made.output
    by_name = run("share", "plan.txt", "--json", url=local_live.url, token=token)
    link = json.loads(by_name.stdout)
    assert set(link) == SHARE_KEYS and link["file_id"] == file["id"] and link["url"].startswith(local_live.url)
    listed = json.loads(run("shares", "--json", url=local_live.url, token=token).stdout)
    assert [set(item) for item in listed] == [SHARE_KEYS, SHARE_KEYS]
    assert [(item["has_password"], item["max_downloads"], item["url"]) for item in listed] == [
        (False, None, link["url"]), (True, 2, made.stdout.strip())], "each link can be copied again"
    revoked = run("revoke", link["id"], url=local_live.url, token=token)
    assert revoked.exit_code == 0 and revoked.stdout == f"revoked {link['id']}\n"
    lines = run("shares", url=local_live.url, token=token).stdout.splitlines()
    assert lines[0].split("\t")[:3] == [link["id"], "revoked", "plan.txt"]
    assert lines[1].split("\t")[1:3] == ["active", "plan.txt"] and lines[1].endswith("0/2 downloads")
    assert one_error_line(run("revoke", "0" * 32, url=local_live.url, token=token)) == "locker: No such link."


def script_env(live: Live, token: str, dirs) -> dict[str, str]:
    assert LOCKER_SCRIPT.exists(), f"{LOCKER_SCRIPT} is missing: install the client with `pip install -e .`"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE")}
    env.update(LOCKER_URL=live.url, LOCKER_TOKEN=token, LOCKER_CONFIG_DIR=str(dirs["config"]),
               LOCKER_STATE_DIR=str(dirs["state"]), TERM="xterm-256color", COLUMNS="120")
    return env


def test_the_installed_script_without_a_terminal_writes_plain_lines(local_live: Live, dirs, tmp_path) -> None:
    _, token = local_live.user()
    path = write(tmp_path, "plain.bin", LARGE)
    done = subprocess.run([str(LOCKER_SCRIPT), "upload", str(path)], env=script_env(local_live, token, dirs),
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"" and b"\x1b" not in done.stdout and b"\r" not in done.stdout
    assert done.stdout.decode().startswith(f"uploaded {path} as plain.bin (")
    failed = subprocess.run([str(LOCKER_SCRIPT), "download", "missing"], env=script_env(local_live, token, dirs),
                            capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert failed.returncode == 1 and failed.stdout == b""
    assert failed.stderr.decode() == "locker: no file with the id or name 'missing' (see `locker ls`)\n"


def on_a_terminal(command: list[str], env: dict[str, str], cwd: Path | None = None
                  ) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run `command` with stderr on a pseudo-terminal (stdout piped); its result and what the terminal showed."""
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower,
                              stdin=subprocess.DEVNULL, timeout=60)
    finally:
        os.close(follower)
        reader.join(timeout=5)
        os.close(leader)
    return done, b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_uploads_show_progress_bars(local_live: Live, dirs, tmp_path) -> None:
    _, token = local_live.user()
    path = write(tmp_path, "shown.bin", LARGE)
    done, screen = on_a_terminal([str(LOCKER_SCRIPT), "upload", str(path)], script_env(local_live, token, dirs))
    assert done.returncode == 0, screen
    assert "\x1b[" in screen, "a terminal gets a live display"
    assert "shown.bin" in screen and "total" in screen and "100%" not in done.stdout.decode()
    assert "━" in screen, "with a bar"
    assert done.stdout.decode().startswith(f"uploaded {path} as shown.bin")
