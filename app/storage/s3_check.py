"""`flask locker check-storage` for S3: does this store do what Locker relies on?

Each check asks the store the way Locker's users will (presigned requests sent
with `requests`, as the browser and the CLI send them) and says plainly what
is missing. Probe objects live under CHECK_PREFIX, outside the keys `sweep`
looks at, and are removed before the check returns.
"""
import hashlib
import os
import uuid

import requests
from botocore.exceptions import BotoCoreError, ClientError

from app.storage.base import Check, StoredPart

CHECK_PREFIX = "locker-check/"
S3_MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last
EXPIRES = 300
HTTP_TIMEOUT = 30
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
NEEDED_HEADERS = ("content-type", "x-amz-checksum-sha256", "if-none-match")


def check_s3(storage, origin):
    """Yield Check results in order; later checks are skipped (and say so) once the bucket is unusable."""
    client = storage.patient().client
    try:
        client.list_objects_v2(Bucket=storage.bucket, MaxKeys=1)
    except BotoCoreError as error:
        yield Check("reachable", False, f"{storage.endpoint_url or 'AWS S3'} did not answer: {error}")
        return
    except ClientError as error:
        code = error.response["Error"]["Code"]
        yield Check("reachable", True, f"{storage.endpoint_url or 'AWS S3'} answers")
        if code in CREDENTIAL_CODES:
            yield Check("credentials", False, f"the store refused the access key or secret ({code}); "
                                              "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        elif code == "NoSuchBucket":
            yield Check("credentials", True, "accepted")
            yield Check("bucket", False, f"bucket {storage.bucket!r} does not exist; "
                                         "`flask locker setup-storage` creates it")
        else:
            yield Check("credentials", False, f"listing bucket {storage.bucket!r} was refused ({code}); "
                                              "the key needs s3:ListBucket on it")
        return
    yield Check("reachable", True, f"{storage.endpoint_url or 'AWS S3'} answers")
    yield Check("credentials", True, "accepted")
    yield Check("bucket", True, f"{storage.bucket!r} exists")
    yield cors_check(storage, origin)
    keys = []
    try:
        yield from probe_uploads(storage, keys)
    finally:
        for key in keys:
            try:
                storage.patient().delete(key)
            except Exception:  # a probe left behind is harmless; the report already says what failed
                pass


def cors_check(storage, origin):
    """The bucket's own rules must let `origin` PUT with Locker's headers and read ETag.

    Rules are read, not only tried: some stores (SeaweedFS by default) answer any
    preflight on a bucket without rules, which AWS does not.
    """
    if not origin:
        return Check("cors", False, "set PUBLIC_URL (or pass --origin) so the check knows the browsers' origin")
    try:
        rules = storage.cors_rules()
    except (ClientError, BotoCoreError) as error:
        return Check("cors", False, f"could not read the bucket's CORS rules: {error}")
    for rule in rules:
        origins = rule.get("AllowedOrigins", [])
        methods = set(rule.get("AllowedMethods", []))
        headers = [h.lower() for h in rule.get("AllowedHeaders", [])]
        exposed = [h.lower() for h in rule.get("ExposeHeaders", [])]
        if ((origin in origins or "*" in origins) and {"PUT", "GET"} <= methods
                and ("*" in headers or all(h in headers for h in NEEDED_HEADERS)) and "etag" in exposed):
            return Check("cors", True, f"browsers at {origin} may upload and read part ETags")
    return Check("cors", False, f"no CORS rule lets {origin} PUT with Content-Type, x-amz-checksum-sha256 and "
                                "If-None-Match and read ETag; run `flask locker setup-storage`")


def probe_uploads(storage, keys):
    data = os.urandom(1024)
    key = CHECK_PREFIX + uuid.uuid4().hex
    keys.append(key)
    wrong = hashlib.sha256(b"not these bytes").hexdigest()
    request = storage.presign_upload(key, len(data), "application/octet-stream", EXPIRES, sha256=wrong)
    refused = send(request, data)
    stored = storage.patient().stat(key)
    if refused.status_code < 300 or stored is not None:
        yield Check("checksums", False, "a PUT whose bytes differ from its signed x-amz-checksum-sha256 was "
                                        "accepted; Locker still checks sizes, and digests when the store reports them")
    else:
        yield Check("checksums", True, f"a body that differs from its signed SHA-256 is refused ({refused.status_code})")

    key = CHECK_PREFIX + uuid.uuid4().hex
    keys.append(key)
    request = storage.presign_upload(key, len(data), "application/octet-stream", EXPIRES,
                                     sha256=hashlib.sha256(data).hexdigest())
    first = send(request, data)
    if first.status_code >= 300:
        yield Check("single upload", False, f"a presigned PUT was refused ({first.status_code}: {first.text[:200]})")
        return
    second = send(request, os.urandom(len(data)))
    if second.status_code == 412:
        yield Check("if-none-match", True, "a second PUT to a stored key is refused (412)")
    else:
        yield Check("if-none-match", False, f"a second PUT through the same URL was answered {second.status_code}; "
                                            "a reused upload URL could overwrite a stored file")
    yield multipart_check(storage, keys)


def multipart_check(storage, keys):
    key = CHECK_PREFIX + uuid.uuid4().hex
    keys.append(key)
    patient = storage.patient()
    sizes = (S3_MIN_PART, 1024)
    try:
        upload_id = patient.create_multipart(key, "application/octet-stream", part_checksums=True,
                                             part_size=sizes[0])
    except Exception as error:
        return Check("multipart", False, f"could not start a multipart upload with part checksums: {error}")
    try:
        parts = []
        for number, size in enumerate(sizes, start=1):
            body = os.urandom(size)
            digest = hashlib.sha256(body).hexdigest()
            response = send(patient.presign_part(key, upload_id, number, size, EXPIRES, sha256=digest), body)
            if response.status_code >= 300:
                return Check("multipart", False, f"part {number} was refused ({response.status_code})")
            etag = response.headers.get("ETag", "").strip('"')
            parts.append(StoredPart(number, size, etag, digest))
        patient.complete_multipart(key, upload_id, parts)
    except Exception as error:
        patient.abort_multipart(key, upload_id)
        return Check("multipart", False, f"a multipart upload with part checksums did not complete: {error}")
    stored = patient.stat(key)
    if stored is None or stored.size != sum(sizes):
        return Check("multipart", False, "a completed multipart upload is not stored whole")
    return Check("multipart", True, "parts signed with their SHA-256 complete into one object")


def send(request, data):
    return requests.request(request.method, request.url, headers=request.headers, data=data, timeout=HTTP_TIMEOUT)
