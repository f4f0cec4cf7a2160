"""Small page defects: the token form's Post/Redirect/Get, wording, sizes and accessible names."""
from tests.conftest import csrf_from
from tests.helpers import upload


def form_token(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_creating_a_token_redirects_and_shows_the_secret_once(app, accounts, caplog):
    client, _ = accounts.signed_in_client()
    response = client.post("/account", data={"csrf_token": form_token(client, "/account"), "name": "ci"})
    assert response.status_code == 303 or response.status_code == 302
    assert response.headers["Location"].endswith("/account")
    first = client.get("/account").get_data(as_text=True)
    assert "shown only once" in first
    secret = first.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    second = client.get("/account").get_data(as_text=True)
    assert secret not in second and "shown only once" not in second
    assert secret not in caplog.text
    from app.extensions import db
    from app.models import ApiToken
    assert db.session.execute(db.select(db.func.count()).select_from(ApiToken)).scalar_one() == 1


def test_a_refused_token_form_makes_no_token_and_says_why(app, accounts):
    client, _ = accounts.signed_in_client()
    response = client.post("/account", data={"csrf_token": form_token(client, "/account"), "name": ""})
    assert response.status_code == 400
    assert "shown only once" not in response.get_data(as_text=True)


def test_file_page_shows_exact_bytes_only_when_they_differ(signed_in):
    client, _, headers = signed_in
    small = upload(client, headers, "small.txt", b"x" * 388)
    big = upload(client, headers, "big.txt", b"x" * 7885)
    small_html = client.get(f"/files/{small['id']}/view").get_data(as_text=True)
    assert "388 bytes" in small_html and "(388 bytes)" not in small_html
    big_html = client.get(f"/files/{big['id']}/view").get_data(as_text=True)
    assert "7.7 KiB" in big_html and "(7,885 bytes)" in big_html


def test_ended_link_page_offers_your_files_only_to_signed_in_users(app, client, accounts):
    html = client.get("/s/no-such-link").get_data(as_text=True)
    assert "Back to your files" not in html
    signed, _ = accounts.signed_in_client()
    assert "Back to your files" in signed.get("/s/no-such-link").get_data(as_text=True)


def test_file_buttons_accessible_names_contain_their_visible_text(signed_in):
    client, _, headers = signed_in
    upload(client, headers, "photo.png", b"x")
    html = client.get("/files").get_data(as_text=True)
    for label in ["View: photo.png", "Download: photo.png", "Share: photo.png", "Activity: photo.png",
                  "Visible to everyone: photo.png", "Delete: photo.png"]:
        assert f'aria-label="{label}"' in html
    assert 'aria-label="Make photo.png' not in html
