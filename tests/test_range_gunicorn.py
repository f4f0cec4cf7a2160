"""Range requests on local storage through the server `make run` starts (gunicorn, gthread).

The Flask test client never runs gunicorn's worker, which reads `wsgi.file_wrapper` from the
environ after the app returns and serves a wrapped file with sendfile; these go over a real socket.
"""
import os
import re

import pytest
import requests

from tests.live_support import gunicorn_live  # noqa: F401  (fixture)

# Over 2 x CHUNK_SIZE and not a multiple of it, so ranges cross the server's reads.
DATA = os.urandom(300 * 1024 + 7)
SIZE = len(DATA)
WHOLE = "whole"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 16


def upload(server, token, name, data):
    headers = {"Authorization": f"Bearer {token}"}
    started = requests.post(f"{server.url}/api/v1/uploads", headers=headers, timeout=30,
                            json={"name": name, "size": len(data), "content_type": "application/octet-stream"})
    assert started.status_code == 201, started.text
    body = started.json()
    assert requests.request(body["method"], body["url"], headers=body["headers"], data=data,
                            timeout=30).status_code == 200
    completed = requests.post(f"{server.url}/api/v1/uploads/{body['id']}/complete", headers=headers, timeout=30)
    assert completed.status_code == 200, completed.text
    return completed.json()


@pytest.fixture(scope="module")
def signed_url(gunicorn_live):
    token = gunicorn_live.token()
    file = upload(gunicorn_live, token, "data.bin", DATA)
    redirect = requests.get(f"{gunicorn_live.url}/api/v1/files/{file['id']}/download", timeout=30,
                            headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
    assert redirect.status_code == 302
    return redirect.headers["Location"]


def assert_partial(response, start, stop, size=SIZE, data=DATA):
    """A 206 with bytes [start, stop) of the file, and headers that say so."""
    assert response.status_code == 206, (response.status_code, response.text[:300])
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
    assert response.headers["Content-Length"] == str(stop - start)
    assert response.content == data[start:stop]


def assert_whole(response):
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert "Content-Range" not in response.headers
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.content == DATA


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-", (0, SIZE)),  # what a browser's <audio>/<video> sends first
    ("bytes=0-0", (0, 1)),
    ("bytes=10-20", (10, 21)),
    ("bytes=-5", (SIZE - 5, SIZE)),
    (f"bytes=-{SIZE + 1000}", (0, SIZE)),  # a suffix longer than the file is the whole file
    ("bytes=100-", (100, SIZE)),
    (f"bytes={SIZE - 10}-{SIZE + 50}", (SIZE - 10, SIZE)),  # an end past the file stops at its end
    ("bytes=1000-200000", (1000, 200001)),  # a big range, across many reads
    # Several ranges, and ranges that are not valid (RFC 9110 §14.1.1), may be ignored: the whole file.
    ("bytes=0-1,5-6", WHOLE),
    ("bytes=abc", WHOLE),
    ("bytes=5-1", WHOLE),
])
def test_a_range_gets_exactly_its_bytes(signed_url, header, expected):
    response = requests.get(signed_url, headers={"Range": header}, timeout=30)
    if expected == WHOLE:
        assert_whole(response)
    else:
        assert_partial(response, *expected)


def test_a_range_past_the_end_is_416_with_the_files_length(signed_url):
    response = requests.get(signed_url, headers={"Range": "bytes=999999-"}, timeout=30)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


def test_a_download_without_range_and_a_head_are_the_whole_file(signed_url):
    assert_whole(requests.get(signed_url, timeout=30))
    head = requests.head(signed_url, timeout=30)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(SIZE) and head.content == b""
    assert head.headers["Accept-Ranges"] == "bytes"
    partial_head = requests.head(signed_url, headers={"Range": "bytes=10-20"}, timeout=30)
    assert partial_head.status_code == 206 and partial_head.headers["Content-Length"] == "11"
    assert partial_head.headers["Content-Range"] == f"bytes 10-20/{SIZE}"


def test_ranges_on_one_kept_alive_connection_stay_in_step(signed_url):
    """A body longer than its Content-Length would leak into the next response on the connection."""
    with requests.Session() as session:
        for start, stop in [(0, 1), (SIZE - 5, SIZE), (10, 21), (0, SIZE), (1000, 200001)]:
            assert_partial(session.get(signed_url, headers={"Range": f"bytes={start}-{stop - 1}"}, timeout=30),
                           start, stop)
        assert_whole(session.get(signed_url, timeout=30))


def test_a_share_links_video_preview_seeks(gunicorn_live):
    """A share link's page previews through the same signed URLs; the video in it plays and seeks."""
    token = gunicorn_live.token()
    file = upload(gunicorn_live, token, "clip.mp4", MP4)
    share = requests.post(f"{gunicorn_live.url}/api/v1/shares", json={"file_id": file["id"]}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert share.status_code == 201, share.text
    page = requests.get(share.json()["url"], timeout=30)
    assert page.status_code == 200
    match = re.search(r'<video[^>]* src="([^"]+)"', page.text)
    assert match, "no <video> preview on the share page"
    src = requests.compat.urljoin(gunicorn_live.url, match.group(1).replace("&amp;", "&"))

    assert_partial(requests.get(src, headers={"Range": "bytes=0-"}, timeout=30), 0, len(MP4), len(MP4), MP4)
    assert_partial(requests.get(src, headers={"Range": "bytes=100-199"}, timeout=30), 100, 200, len(MP4), MP4)
    video = requests.get(src, timeout=30)
    assert video.status_code == 200 and video.content == MP4 and video.headers["Content-Type"] == "video/mp4"
