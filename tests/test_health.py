from app.extensions import db
from app.storage import StorageError


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_storage_down_is_503_naming_it(app, client, monkeypatch):
    def down():
        raise StorageError("bucket gone")

    monkeypatch.setattr(app.extensions["locker.storage"], "health", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "down", "database": "ok", "storage": "down"}


def test_database_down_is_503_naming_it(app, client, monkeypatch):
    def down(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(db.session, "execute", down)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "down"
