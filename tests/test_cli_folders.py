"""The `locker` command's folders, trash and folder trees, against a live Locker."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from locker_client import Locker
from tests.live_support import Live, live, local_live, moto_server  # noqa: F401  (fixtures)
from tests.test_cli_tool import (FILE_KEYS, connect_through, dirs, on_a_terminal,  # noqa: F401
                                 one_error_line, run, script_env)
from tests.test_client import SMALL, write
from tests.test_client_folders import DownloadTransport, make_tree, tree_of


def test_a_tree_goes_up_with_upload_r_and_comes_down_with_download_r(live: Live, run, dirs, monkeypatch) -> None:
    _, token = live.user()
    source = dirs["work"] / "source"
    files = make_tree(source)
    up = run("upload", "-r", str(source), "--to", "Backup/2026", "--json", url=live.url, token=token)
    assert up.exit_code == 0, up.output
    uploaded = json.loads(up.stdout)
    assert [set(f) for f in uploaded] == [FILE_KEYS] * len(files)
    assert sorted(f"{f['path']}/{f['name']}" for f in uploaded) == sorted(f"Backup/2026/{p}" for p in files)
    listed = json.loads(run("ls", "Backup/2026/Fotos", "--json", url=live.url, token=token).stdout)
    assert sorted((item["kind"], item["name"]) for item in listed) == [
        ("file", "notes.md"), ("folder", "Sommer 2024"), ("folder", "leer \u00f8")], "the empty folder too"

    copy = dirs["work"] / "copy"
    down = run("download", "-r", "Backup/2026", str(copy), "--json", url=live.url, token=token)
    assert down.exit_code == 0, down.output
    summary = json.loads(down.stdout)
    assert (summary["folder"], summary["local"], summary["skipped"], summary["failed"]) == \
        ("Backup/2026", str(copy), [], [])
    assert sorted(item["path"] for item in summary["transferred"]) == sorted(files)
    assert summary["bytes"] == sum(len(data) for data in files.values())
    assert tree_of(copy) == tree_of(source)

    # Both again: nothing is sent or fetched twice.
    again = run("upload", "-r", str(source), "--to", "Backup/2026", url=live.url, token=token)
    assert again.exit_code == 0, again.output
    assert len(again.stdout.splitlines()) == len(files) and again.stdout.count("skipped ") == len(files)
    assert f"skipped {source / 'Docs' / 'a.txt'} (already in Backup/2026/Docs)" in again.stdout
    assert f"skipped {source / 'readme.txt'} (already in Backup/2026)" in again.stdout
    back = run("download", "-r", "Backup/2026", str(copy), url=live.url, token=token)
    assert back.exit_code == 0 and sorted(back.stdout.splitlines()) == sorted(
        f"skipped {copy / path} (already there)" for path in files)

    # ls of a file's path lists the file; download of a folder without -r says what to add.
    assert [item["name"] for item in json.loads(run("ls", "Backup/2026/Docs/a.txt", "--json", url=live.url,
                                                    token=token).stdout)] == ["a.txt"]
    assert one_error_line(run("download", "Backup/2026/Docs", url=live.url, token=token)) == \
        "locker: Backup/2026/Docs is a folder; add --recursive to download it with what is in it"
    assert one_error_line(run("download", "Backup", url=live.url, token=token)) == \
        "locker: Backup is a folder; add --recursive to download it with what is in it"
    assert one_error_line(run("ls", "Backup/1999", url=live.url, token=token)) == \
        "locker: Backup/1999: No folder 1999 in Backup."

    # Without --to, a folder goes to a folder of its own name.
    plain = run("upload", "-r", str(source / "Docs"), url=live.url, token=token)
    assert plain.exit_code == 0 and f"as Docs/a.txt (" in plain.stdout
    assert "\x1b" not in plain.output and plain.stderr == "", "no progress bars without a terminal"
    # download -r without DIR: a folder of the folder's name, here.
    monkeypatch.chdir(dirs["work"])
    here = run("download", "-r", "Backup/2026/Fotos/Sommer 2024", url=live.url, token=token)
    assert here.exit_code == 0, here.output
    assert tree_of(dirs["work"] / "Sommer 2024") == tree_of(source / "Fotos" / "Sommer 2024")


def test_an_interrupted_download_r_fetches_only_what_is_missing(local_live: Live, run, dirs, monkeypatch) -> None:
    _, token = local_live.user()
    source = dirs["work"] / "source"
    files = make_tree(source)
    assert run("upload", "-r", str(source), "--to", "Tree", url=local_live.url, token=token).exit_code == 0
    copy = dirs["work"] / "copy"
    connect_through(monkeypatch, local_live, token, dirs, DownloadTransport(fail_names={"a.txt"}), retries=0)
    failed = run("download", "-r", "Tree", str(copy))
    assert one_error_line(failed).startswith("locker: Docs/a.txt: download of a.txt failed 1 times: ")
    assert sorted(failed.stdout.splitlines()) == sorted(f"saved {copy / path}" for path in files
                                                        if path != "Docs/a.txt")
    healthy = DownloadTransport()
    connect_through(monkeypatch, local_live, token, dirs, healthy)
    resumed = run("download", "-r", "Tree", str(copy), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert [item["path"] for item in json.loads(resumed.stdout)["transferred"]] == ["Docs/a.txt"]
    assert healthy.fetched == ["a.txt"], "complete files are not fetched again"
    assert tree_of(copy) == tree_of(source)


def test_mkdir_mv_ls_rm_trash_restore(local_live: Live, run, dirs) -> None:
    _, token = local_live.user()

    def locker(*args: str, **options):
        return run(*args, url=local_live.url, token=token, **options)

    made = locker("mkdir", "-p", "Projects/2026/Q1", "Archive")
    assert made.exit_code == 0 and made.stdout == "made Projects/2026/Q1\nmade Archive\n"
    assert one_error_line(locker("mkdir", "Archive")) == "locker: This folder already has something named Archive."
    assert one_error_line(locker("mkdir", "Nope/deeper")) == \
        "locker: Nope/deeper: No folder Nope in your root folder (add -p to make it too)"
    as_json = json.loads(locker("mkdir", "-p", "Archive", "--json").stdout)
    assert [(f["name"], f["path"]) for f in as_json] == [("Archive", "Archive")]
    plan = write(dirs["work"], "plan.txt", b"the plan")
    assert locker("upload", str(plan), "--to", "Projects/2026").exit_code == 0
    assert locker("upload", str(write(dirs["work"], "notes.txt", SMALL))).exit_code == 0

    moved = locker("mv", "Projects/2026/plan.txt", "notes.txt", "Projects/2026/Q1", "Archive")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.splitlines() == ["moved Projects/2026/plan.txt to Archive", "moved notes.txt to Archive",
                                         "moved Projects/2026/Q1 to Archive"]
    listing = locker("ls", "Archive").stdout.splitlines()
    assert [line.split("\t")[3] for line in listing] == ["Q1/", "notes.txt", "plan.txt"], "newest file first"
    assert [item["name"] for item in json.loads(locker("ls", "/", "--json").stdout)] == ["Archive", "Projects"]

    # Refusals: one clear line, exit 1, nothing changed.
    assert one_error_line(locker("mv", "Archive", "Archive/Q1")) == \
        "locker: Archive can't be moved into itself or a folder inside it."
    assert locker("upload", str(plan)).exit_code == 0
    assert one_error_line(locker("mv", "Projects/2026", "plan.txt", "Archive")) == \
        "locker: Archive: This folder already has something named plan.txt. Nothing was moved."
    assert one_error_line(locker("mv", "Archive/plan.txt", "Nowhere")) == \
        "locker: Nowhere: No folder Nowhere in your root folder (make it with `locker mkdir -p`)"
    assert one_error_line(locker("mv", "missing.txt", "Archive")) == \
        "locker: no file or folder 'missing.txt' (see `locker ls`)"
    assert [item["name"] for item in json.loads(locker("ls", "Projects", "--json").stdout)] == ["2026"], \
        "all or none: the folder did not move either"

    # rm moves to the trash; restore brings back; purge and empty delete for good.
    removed = locker("rm", "Archive/Q1", "plan.txt")
    assert removed.exit_code == 0 and removed.stdout == \
        "moved Archive/Q1 to the trash\nmoved plan.txt to the trash\n"
    held = json.loads(locker("trash", "--json").stdout)
    assert sorted((item["kind"], item["name"], item["trashed_from"]) for item in held["items"]) == [
        ("file", "plan.txt", ""), ("folder", "Q1", "Archive")]
    assert held["bytes"] == len(b"the plan") and held["retention_seconds"] > 0
    lines = locker("trash").stdout.splitlines()
    assert sorted(line.split("\t")[0] + " " + line.split("\t")[4] for line in lines) == [
        "file plan.txt", "folder Archive/Q1"]
    assert locker("restore", "Archive/Q1").stdout == "restored Archive/Q1\n"
    assert "Q1/" in locker("ls", "Archive").stdout
    assert one_error_line(locker("restore", "nothing")) == "locker: Nothing in the trash is called nothing."
    unconfirmed = locker("trash", "purge", "plan.txt")  # no terminal to answer: nothing is deleted
    assert unconfirmed.exit_code != 0 and len(json.loads(locker("trash", "--json").stdout)["items"]) == 1
    purged = locker("trash", "purge", "plan.txt", "--yes")
    assert purged.exit_code == 0 and purged.stdout == "deleted plan.txt for good\n"
    assert locker("rm", "Archive/notes.txt").exit_code == 0
    assert locker("trash", "empty", "--yes").stdout == "emptied the trash\n"
    assert json.loads(locker("trash", "--json").stdout)["items"] == []

    renamed = locker("rename", "Archive/Q1", "Quarter 1")
    assert renamed.exit_code == 0 and renamed.stdout == "renamed Archive/Q1 to Quarter 1\n"
    assert one_error_line(locker("rename", "Archive/Quarter 1", "plan.txt")) == \
        "locker: This folder already has something named plan.txt."


# This checkout's `locker` (the installed script may run another checkout's code).
LOCKER = [sys.executable, "-m", "locker_client"]
HERE = Path(__file__).resolve().parents[1]


def test_on_a_terminal_tree_transfers_show_one_overall_bar(local_live: Live, dirs, tmp_path) -> None:
    _, token = local_live.user()
    source = tmp_path / "source"
    files = make_tree(source)
    env = script_env(local_live, token, dirs)
    done, screen = on_a_terminal([*LOCKER, "upload", "-r", str(source), "--to", "T"], env, cwd=HERE)
    assert done.returncode == 0, screen
    assert "\x1b[" in screen and "━" in screen and f"uploaded {len(files)}/{len(files)} files" in screen
    assert "video.bin" not in screen, "one overall bar, not one per file"
    assert f"{len(files)} uploaded (" in screen and "0 already there, 0 failed" in screen
    lines = done.stdout.decode().splitlines()
    assert [line.split(" as ")[0] for line in lines] == sorted(f"uploaded {source / path}" for path in files), \
        "after the live display, in path order"
    done, screen = on_a_terminal([*LOCKER, "download", "-r", "T", str(tmp_path / "copy")], env, cwd=HERE)
    assert done.returncode == 0, screen
    assert "━" in screen and f"downloaded {len(files)} files" in screen and "0 failed: T to " in screen
    assert tree_of(tmp_path / "copy") == tree_of(source)
    with Locker(local_live.url, token=token) as lk:
        assert len(list(lk.files())) == len(files)


def test_upload_to_a_folder_by_id(local_live: Live, run, dirs) -> None:
    _, token = local_live.user()
    archive = json.loads(run("mkdir", "Archive", "--json", url=local_live.url, token=token).stdout)[0]
    by_id = run("upload", str(write(dirs["work"], "by id.txt", b"x")), "--to", archive["id"], "--json",
                url=local_live.url, token=token)
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.stdout)[0]["path"] == "Archive"
    assert one_error_line(run("upload", str(dirs["work"] / "by id.txt"), "--to", "0" * 32, url=local_live.url,
                              token=token)) == f"locker: No folder {'0' * 32} in your root folder."
