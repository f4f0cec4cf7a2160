"""`flask locker …` commands."""
from app.extensions import db
from app.models import File, FileStatus, User
from tests.conftest import PASSWORD
from tests.helpers import delete_for_good, upload


def test_bootstrap_prints_a_one_time_setup_link_when_there_are_no_accounts(app):
    result = app.test_cli_runner().invoke(args=["locker", "bootstrap", "--port", "5123"])
    assert result.exit_code == 0, result.output
    base = app.config.get("PUBLIC_URL") or "http://127.0.0.1:5123"
    assert f"{base}/setup/" in result.output and "password" not in result.output.lower()
    token = result.output.split("/setup/")[1].split()[0]
    assert app.test_client().get(f"/setup/{token}").status_code == 200


def test_bootstrap_creates_the_configured_admin(make_app, backend):
    app = make_app(**backend, LOCKER_ADMIN_USERNAME="admin", LOCKER_ADMIN_PASSWORD=PASSWORD)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["locker", "bootstrap"])
        assert result.exit_code == 0 and "Admin account: admin" in result.output and "/setup/" not in result.output
        assert db.session.execute(db.select(User).filter_by(username="admin")).scalar_one().is_admin


def test_bootstrap_lists_lan_addresses_when_serving_the_network(app, monkeypatch):
    from app import cli
    monkeypatch.setattr(cli, "lan_addresses", lambda: ["192.0.2.10"])
    result = app.test_cli_runner().invoke(args=["locker", "bootstrap", "--host", "0.0.0.0", "--port", "8000"])
    assert "http://127.0.0.1:8000" in result.output and "http://192.0.2.10:8000" in result.output


def test_bootstrap_refuses_a_bad_admin_setting(make_app, backend):
    app = make_app(**backend, LOCKER_ADMIN_USERNAME="x", LOCKER_ADMIN_PASSWORD="short")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["locker", "bootstrap"])
        assert result.exit_code != 0 and "LOCKER_ADMIN_USERNAME/PASSWORD" in result.output


def test_create_user(app):
    result = app.test_cli_runner().invoke(args=["locker", "create-user", "Olivia", "--admin", "--password", PASSWORD])
    assert result.exit_code == 0 and "Created admin olivia." in result.output
    again = app.test_cli_runner().invoke(args=["locker", "create-user", "olivia", "--password", PASSWORD])
    assert again.exit_code != 0 and "taken" in again.output


def test_retry_deletes(app, client, accounts, monkeypatch):
    from app.storage import StorageError
    headers = accounts.headers(accounts.create())
    file = upload(client, headers, "x.txt", b"x")
    storage = app.extensions["locker.storage"]
    real_delete = storage.delete
    monkeypatch.setattr(storage, "delete", lambda key: (_ for _ in ()).throw(StorageError("down")))
    delete_for_good(client, headers, file["id"])
    failing = app.test_cli_runner().invoke(args=["locker", "retry-deletes"])
    assert failing.exit_code == 1 and "1 still failing" in failing.output
    monkeypatch.setattr(storage, "delete", real_delete)
    result = app.test_cli_runner().invoke(args=["locker", "retry-deletes"])
    assert result.exit_code == 0 and "Deleted 1; 0 still failing." in result.output
    assert db.session.execute(db.select(File).filter_by(status=FileStatus.DELETING)).first() is None
