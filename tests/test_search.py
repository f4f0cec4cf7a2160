"""Name search: case-insensitive and partial, over your files and files visible to everyone, through an index."""
import re
import uuid
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import File, FileStatus, utcnow
from app.services import files as file_service
from tests.helpers import make_visible, recorded_sql, row_names, upload, walk_pages


@pytest.fixture
def backend():
    """Search needs no storage backend beyond the local one."""
    return {"STORAGE_BACKEND": "local"}


@pytest.fixture
def alice(app, accounts):
    return accounts.create("alice")


@pytest.fixture
def bob(app, accounts):
    return accounts.create("bob")


@pytest.fixture
def headers(accounts, alice):
    return accounts.headers(alice)


def search(client, headers, q, **params):
    response = client.get("/api/v1/files", headers=headers, query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    return sorted(item["name"] for item in response.get_json()["items"])


def test_search_ignores_case_and_matches_any_part_of_a_name(client, headers):
    for name in ["Ärger.txt", "straße.txt", "Quarterly Report 2026.pdf", "notes.md", "ﬁnal.txt"]:
        upload(client, headers, name, b"x")
    assert search(client, headers, "ÄR") == ["Ärger.txt"]
    assert search(client, headers, "rGeR") == ["Ärger.txt"]
    assert search(client, headers, "STRASSE") == ["straße.txt"]  # casefold: ß is ss
    assert search(client, headers, "port 20") == ["Quarterly Report 2026.pdf"]
    assert search(client, headers, "FINAL") == ["ﬁnal.txt"]  # NFKC: the ligature is f + i
    assert search(client, headers, ".TXT") == ["straße.txt", "Ärger.txt", "ﬁnal.txt"]
    assert search(client, headers, "  notes  ") == ["notes.md"]
    assert search(client, headers, "reports") == []


def test_a_long_query_matches_only_names_holding_all_of_it_in_one_piece(client, headers):
    """A name with every part of the query, apart or in another order, is not a match (SQLite looks a long query up
    in pieces)."""
    for name in ["invoice 123456.pdf", "12345 456.pdf", "456.pdf 12345", "invoice 1234567.pdf"]:
        upload(client, headers, name, b"x")
    assert search(client, headers, "123456.pdf") == ["invoice 123456.pdf"]
    assert search(client, headers, "invoice 123456") == ["invoice 123456.pdf", "invoice 1234567.pdf"]
    assert search(client, headers, "12345 456") == ["12345 456.pdf"]


def test_one_or_two_characters_match_the_start_of_names(client, headers):
    for name in ["ab.txt", "Abc.md", "cab.txt", "b.txt"]:
        upload(client, headers, name, b"x")
    assert search(client, headers, "a") == ["Abc.md", "ab.txt"]
    assert search(client, headers, "AB") == ["Abc.md", "ab.txt"]
    assert search(client, headers, "ca") == ["cab.txt"]
    assert search(client, headers, "b") == ["b.txt"]


@pytest.mark.parametrize("query,expected", [
    ("0% d", ["100% done.txt"]), ("%", ["%rate.txt"]), ("a_b", ["a_b.txt"]), ("_", ["_x.txt"]),
    ("[d", ["[draft] plan.txt"]), ("[", ["[draft] plan.txt"]), ("*", []), ("\\", []), ('"hi', []),
    ('" OR "', []), ("a*", []), ("NEAR(", []), ("ft]", ["[draft] plan.txt"]),
])
def test_wildcards_and_quotes_are_taken_literally(client, headers, query, expected):
    for name in ["100% done.txt", "1000 done.txt", "%rate.txt", "a_b.txt", "axb.txt", "_x.txt", "x.txt",
                 "[draft] plan.txt", "d.txt", "ab.txt"]:
        upload(client, headers, name, b"x")
    assert search(client, headers, query) == expected


def test_another_users_private_files_never_appear(client, accounts, alice, bob, headers):
    bob_headers = accounts.headers(bob)
    upload(client, bob_headers, "secret plan.txt", b"x")
    make_visible(client, bob_headers, upload(client, bob_headers, "public plan.txt", b"x"))
    upload(client, headers, "my plan.txt", b"x")

    body = client.get("/api/v1/files?q=PLAN", headers=headers).get_json()
    assert {(item["name"], item["owner"]) for item in body["items"]} == {("my plan.txt", "alice"),
                                                                        ("public plan.txt", "bob")}
    assert search(client, headers, "plan", scope="mine") == ["my plan.txt"]
    assert search(client, headers, "plan", scope="everyone") == ["public plan.txt"]
    assert search(client, headers, "p", scope="all") == ["public plan.txt"]
    assert search(client, headers, "secret") == []
    # Bob sees his own private file; Alice's private one is hidden from him in turn.
    assert search(client, bob_headers, "plan") == ["public plan.txt", "secret plan.txt"]

    browser, _ = accounts.signed_in_client(alice)
    # The files page searches the folder shown; "All folders" adds every folder and what is shared with everyone.
    assert "public plan.txt" not in browser.get("/files?q=plan").get_data(as_text=True)
    page = browser.get("/files?q=plan&everywhere=1").get_data(as_text=True)
    assert "public plan.txt" in page and "my plan.txt" in page and "secret plan" not in page
    assert re.search(r'<td class="owner" data-label="Owner">bob</td>', page)
    assert 'aria-label="Delete: public plan.txt"' not in page and 'aria-label="Delete: my plan.txt"' in page
    assert 'value="plan"' in page and '<label for="search-q">' in page
    everyone = browser.get("/everyone?q=plan").get_data(as_text=True)
    assert "public plan.txt" in everyone and "my plan.txt" not in everyone and "secret plan" not in everyone


def test_names_renamed_on_completion_are_found(client, headers):
    upload(client, headers, "a.txt", b"1")
    renamed = upload(client, headers, "a.txt", b"2")
    assert renamed["name"] == "a (1).txt"
    assert search(client, headers, "(1)") == ["a (1).txt"]
    assert search(client, headers, "A (1).TXT") == ["a (1).txt"]


def test_deleted_files_disappear_from_search(client, headers):
    file = upload(client, headers, "temporary.log", b"x")
    assert search(client, headers, "tempor") == ["temporary.log"]
    assert client.delete(f"/api/v1/files/{file['id']}", headers=headers).status_code == 204
    assert search(client, headers, "tempor") == [] and search(client, headers, "te") == []


def test_search_pages_by_cursor_and_the_cursor_keeps_its_search(client, headers):
    names = [f"photo {i:02}.jpg" for i in range(5)]
    for name in names + ["other.txt", "more.txt"]:
        upload(client, headers, name, b"x")
    for sort, order, expected in [("name", "asc", names), ("date", "desc", names[::-1])]:
        seen = [item["name"] for item in walk_pages(client, headers, "/api/v1/files", q="PHOTO", limit=2,
                                                     sort=sort, order=order)]
        assert seen == expected, sort

    first = client.get("/api/v1/files?q=photo&limit=2&sort=name", headers=headers).get_json()
    # The cursor alone carries the search; the same search with it is fine, another is refused.
    assert [i["name"] for i in client.get(f"/api/v1/files?cursor={first['next_cursor']}&limit=2",
                                          headers=headers).get_json()["items"]] == names[2:4]
    assert client.get(f"/api/v1/files?cursor={first['next_cursor']}&q=Photo",
                      headers=headers).status_code == 200
    for other in ["q=other", "scope=mine", "scope=everyone"]:
        response = client.get(f"/api/v1/files?cursor={first['next_cursor']}&{other}", headers=headers)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor", other


def test_search_pages_in_the_browser(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", FILES_PER_PAGE=2)
    with app.app_context():
        browser, user = accounts.signed_in_client()
        headers = accounts.headers(user)
        for name in ["photo 1.jpg", "other.txt", "photo 2.jpg", "photo 3.jpg"]:
            upload(browser, headers, name, b"x")
        first = browser.get("/files?q=photo&sort=name&order=asc").get_data(as_text=True)
        assert row_names(first) == ["photo 1.jpg", "photo 2.jpg"]
        next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        assert "q=photo" in next_link
        second = browser.get(next_link).get_data(as_text=True)
        assert row_names(second) == ["photo 3.jpg"]
        assert 'value="photo"' in second
        nothing = browser.get("/files?q=zebra").get_data(as_text=True)
        assert "No file in this folder has a name matching “zebra”" in nothing
        nothing = browser.get("/files?q=zebra&everywhere=1").get_data(as_text=True)
        assert "No file you can see has a name matching “zebra”" in nothing


@pytest.mark.parametrize("query,code", [
    ("q=" + "x" * 101, "invalid_query"), ("q=a%01b", "invalid_query"), ("q=a%E2%80%AEb", "invalid_query"),
    ("scope=nobody", "invalid_scope"), ("q=abc&scope=", "invalid_scope"),
])
def test_bad_searches_get_clear_errors(client, headers, query, code):
    response = client.get(f"/api/v1/files?{query}", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_bad_search_in_the_page_is_a_clear_400(accounts, local_app):
    browser, _ = accounts.signed_in_client()
    response = browser.get("/files?q=" + "x" * 101)
    assert response.status_code == 400 and "at most 100 characters" in response.get_data(as_text=True)


def test_without_q_the_listing_stays_your_own_files(client, accounts, headers, bob):
    bob_headers = accounts.headers(bob)
    make_visible(client, bob_headers, upload(client, bob_headers, "bobs.txt", b"x"))
    upload(client, headers, "mine.txt", b"x")
    assert [i["name"] for i in client.get("/api/v1/files", headers=headers).get_json()["items"]] == ["mine.txt"]
    assert search(client, headers, "") == ["mine.txt"]
    assert search(client, headers, "   ", scope="all") == ["bobs.txt", "mine.txt"]


NOISE_FILES = 2000


@pytest.fixture
def many_files(client, headers, alice):
    """Three files named "report …" among 2,000 others, half of them visible to everyone, with fresh statistics.

    The planner must see a table where walking every file costs more than asking the
    search index (as at 100,000 files), not a handful of rows where anything is cheap.
    """
    for number in range(3):
        make_visible(client, headers, upload(client, headers, f"report {number}.txt", b"x"))
    start = utcnow() - timedelta(days=1)
    rows = [{"public_id": uuid.uuid4().hex, "owner_id": alice.id, "name": f"file {i:05}.bin",
             "search_name": f"file {i:05}.bin", "size": 1, "content_type": "application/octet-stream",
             "storage_key": f"u/{alice.id}/{uuid.uuid4().hex}", "status": FileStatus.READY,
             "visible_to_everyone": i % 2 == 0, "created_at": start - timedelta(seconds=i)} for i in range(NOISE_FILES)]
    db.session.execute(db.insert(File), rows)
    db.session.commit()
    analyze()
    yield
    db.session.rollback()
    db.session.execute(db.delete(File))
    db.session.commit()


def analyze():
    if db.engine.dialect.name == "postgresql":
        # VACUUM also records the GIN index's size, which its cost estimate reads.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE files")


def plan_of(sql, params):
    with db.engine.connect() as connection:
        prefix = "EXPLAIN QUERY PLAN "
        if connection.dialect.name == "postgresql":
            # At 2,000 rows reading the whole table is still cheap; at 100,000 it is not. Given
            # that, which index does the planner choose, by its statistics?
            connection.exec_driver_sql("SET enable_seqscan = off")
            prefix = "EXPLAIN "
        return " ".join(str(row) for row in connection.exec_driver_sql(prefix + sql, params).all())


@pytest.mark.parametrize("scope", ["mine", "everyone", "all"])
@pytest.mark.parametrize("q", ["report", "re"])
def test_search_reads_an_index_never_scans_every_name(many_files, alice, q, scope):
    """Substrings through the trigram index (pg_trgm GIN, or SQLite's FTS5 table); short prefixes through it or the b-tree."""

    with recorded_sql() as executed:
        first = file_service.list_files(alice, q=q, scope=scope, limit=2)
        second = file_service.list_files(alice, cursor=first.next_cursor, limit=2)
    assert [f.name for f in first.items + second.items] == ["report 2.txt", "report 1.txt", "report 0.txt"]
    pages = [(sql, params) for sql, params in executed if "FROM files" in sql and "LIMIT" in sql.upper()]
    assert len(pages) == 2
    for sql, params in pages:
        plan = plan_of(sql, params)
        if db.engine.dialect.name == "postgresql":
            assert "Bitmap Index Scan on ix_files_search_name" in plan and "Seq Scan" not in plan, plan
        elif len(q) >= 3:
            # The FTS5 table finds the matching ids; only those rows are read.
            assert "SCAN files_search VIRTUAL TABLE" in plan and "SEARCH files USING INTEGER PRIMARY KEY" in plan, plan
        else:
            assert "SEARCH files USING INDEX ix_files_search_name (search_name>? AND search_name<?)" in plan, plan
        assert "SCAN files " not in plan + " ", plan
