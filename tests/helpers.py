"""Small helpers the tests share: sending bytes to a signed URL and the API upload flow."""
import hashlib
from urllib.parse import urlsplit

import requests


def send(client, method, url, headers=None, data=b""):
    """Send a request to a signed storage URL: local ones to the app, S3 ones over HTTP (moto)."""
    if urlsplit(url).path.startswith("/_storage/"):
        response = client.open(url, method=method, headers=headers or {}, data=data)
        return response.status_code, response.headers, response.get_data()
    response = requests.request(method, url, headers=headers or {}, data=data, timeout=30)
    return response.status_code, response.headers, response.content


def start_upload(client, headers, name, data, content_type="application/octet-stream", **extra):
    return client.post("/api/v1/uploads", headers=headers,
                       json={"name": name, "size": len(data), "content_type": content_type, **extra})


def upload(client, headers, name, data, content_type="application/octet-stream"):
    """The whole API flow: start, PUT the bytes to storage, complete. Returns the file JSON."""
    started = start_upload(client, headers, name, data, content_type)
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    status, _, _ = send(client, body["method"], body["url"], body["headers"], data)
    assert status == 200, status
    completed = client.post(f"/api/v1/uploads/{body['id']}/complete", headers=headers)
    assert completed.status_code == 200, completed.get_json()
    return completed.get_json()


def download(client, headers, file_id):
    """Follow the API's download redirect to storage; returns (status, headers, body)."""
    response = client.get(f"/api/v1/files/{file_id}/download", headers=headers)
    assert response.status_code == 302, response.get_json()
    return send(client, "GET", response.headers["Location"])


def sha256(data):
    return hashlib.sha256(data).hexdigest()
