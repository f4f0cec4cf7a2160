"""S3 storage (AWS S3, MinIO, any S3-compatible store) through boto3.

Clients upload and download with SigV4 presigned URLs; this process only
signs and checks. When browsers reach the bucket at another address than
this server does (S3_PUBLIC_ENDPOINT_URL), URLs are signed by a second client
configured for that address, because the host is part of the signature.
"""
import base64
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone
from urllib.parse import urlsplit

import boto3
from botocore import UNSIGNED
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from app.storage.breaker import Breaker
from app.storage.replication import ReplicationState, replication_state, writes_refused
from app.storage.s3_check import check_s3
from app.storage.base import (Health, ObjectInfo, PendingMultipart, Storage, StorageError, StoredObject, StoredPart,
                              StorageReadOnly, StorageRejected, UploadRequest, content_disposition)

CORS_RULE_ID = "locker"
MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# What S3 answers when the client's parts do not add up; anything else is an outage.
REJECTED_CODES = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "BadDigest",
                  "InvalidRequest", "InvalidDigest"}
# SigV4 presigned URLs live at most seven days; S3 refuses any that claim longer.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def presign_seconds(expires):
    return min(int(expires), MAX_PRESIGN_SECONDS)


@dataclass(frozen=True)
class Timeouts:
    """How long one call may take: seconds to connect, seconds between bytes, attempts in all."""

    connect: float
    read: float
    attempts: int


# Serving a request: a stalled store must cost a user seconds, not minutes (see the breaker).
REQUEST_TIMEOUTS = Timeouts(connect=2, read=5, attempts=2)
# Housekeeping (sweep, verify) has no one waiting, and reads whole objects.
PATIENT_TIMEOUTS = Timeouts(connect=10, read=60, attempts=5)
# /readyz must answer within two seconds whatever the store does.
PROBE_TIMEOUTS = Timeouts(connect=0.8, read=0.8, attempts=1)
# The whole health check (the bucket, then the SeaweedFS master) within this long: the master
# gets what the bucket's probe left, at most PROBE_TIMEOUTS.read.
HEALTH_DEADLINE = 1.8
CONNECTIONS = 32
# How long the master's answer about copies is reused: health is asked by every /readyz and every
# admin overview, anonymous probes included, and the master need not answer each one.
REPLICATION_STATE_SECONDS = 5.0


def _client(endpoint_url, region, path_style, timeouts=REQUEST_TIMEOUTS, signed=True):
    config = BotoConfig(
        signature_version="s3v4" if signed else UNSIGNED,
        s3={"addressing_style": "path" if path_style else "virtual"},
        # boto3 >= 1.36 adds CRC headers to every request by default, which some
        # S3-compatible servers refuse; ask for checksums only where S3 requires them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"total_max_attempts": timeouts.attempts, "mode": "standard"},
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        # A worker's threads (16 as `make run` starts it) and a batch completion's lookups share one client;
        # botocore's default of 10 connections would close and reopen the ones beyond it on every call.
        max_pool_connections=CONNECTIONS,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class StoreUnavailable(BotoCoreError):
    """Refused without asking: the store failed moments ago (see app.storage.breaker)."""

    fmt = "storage failed moments ago; trying again in {retry_in} s ({last_error})"


def cors_rule(origins):
    """What a browser at `origins` needs to send bytes straight to the bucket and read them back."""
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["*"],
        # Without this, browsers cannot read part ETags for multipart uploads.
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }


def _naive_utc(moment):
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _hex_to_b64(hex_digest):
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _b64_to_hex(b64_digest):
    # Multipart objects report "<digest>-<parts>", a checksum of checksums.
    if not b64_digest or "-" in b64_digest:
        return None
    return base64.b64decode(b64_digest).hex()


class S3Storage(Storage):
    name = "s3"
    remote = True

    def __init__(self, bucket, region="us-east-1", endpoint_url=None, public_endpoint_url=None,
                 timeouts=REQUEST_TIMEOUTS, retry_after=5, seaweedfs_master_url=None):
        self.bucket = bucket
        # A SeaweedFS cluster's master, asked whether every object has its copies (app.storage.replication).
        self.seaweedfs_master_url = seaweedfs_master_url
        self.region = region
        self.endpoint_url = endpoint_url
        self.public_endpoint_url = public_endpoint_url
        self.timeouts = timeouts
        self.path_style = bool(endpoint_url)
        self.client = _client(endpoint_url, region, self.path_style, timeouts)
        if public_endpoint_url and public_endpoint_url != endpoint_url:
            self.signer_address = (public_endpoint_url, True)
            self.signer = _client(public_endpoint_url, region, path_style=True)
        else:
            self.signer_address = (endpoint_url, self.path_style)
            self.signer = self.client
        self.breaker = Breaker(retry_after) if retry_after is not None else None
        self.before_network_call = None  # set by the app: no call may go out inside a database write
        events = self.client.meta.events
        events.register("before-call.s3", self._admit)
        events.register("after-call.s3", self._answered)
        events.register("after-call-error.s3", self._unanswered)
        self._probe = None
        self._patient = None
        self._replication = None  # (monotonic time it was asked, ReplicationState)

    @classmethod
    def from_config(cls, config):
        if not config.get("S3_BUCKET"):
            raise RuntimeError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return cls(
            bucket=config["S3_BUCKET"],
            region=config.get("S3_REGION") or "us-east-1",
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            public_endpoint_url=config.get("S3_PUBLIC_ENDPOINT_URL"),
            timeouts=Timeouts(connect=config.get("S3_CONNECT_TIMEOUT", REQUEST_TIMEOUTS.connect),
                              read=config.get("S3_READ_TIMEOUT", REQUEST_TIMEOUTS.read),
                              attempts=config.get("S3_MAX_ATTEMPTS", REQUEST_TIMEOUTS.attempts)),
            retry_after=config.get("STORAGE_RETRY_AFTER", 5),
            seaweedfs_master_url=config.get("S3_SEAWEEDFS_MASTER_URL"),
        )

    # Every API call (and every page of a listing) passes these hooks.

    def _admit(self, **_):
        if self.before_network_call is not None:
            self.before_network_call()
        if self.breaker is not None and not self.breaker.admit():
            raise StoreUnavailable(retry_in=self.breaker.retry_in(), last_error=self.breaker.last_error)

    def _answered(self, http_response, **_):
        # An answer, even a refusal, means the store is there; 5xx after retries means it is not serving.
        if self.breaker is None:
            return
        if http_response.status_code >= 500:
            self.breaker.failed(f"HTTP {http_response.status_code}")
        else:
            self.breaker.succeeded()

    def _unanswered(self, exception, **_):
        if self.breaker is not None:
            self.breaker.failed(exception)

    def patient(self):
        """This store with long timeouts and no breaker, for housekeeping that no user waits on."""
        if self._patient is None:
            self._patient = S3Storage(self.bucket, self.region, self.endpoint_url, self.public_endpoint_url,
                                      timeouts=PATIENT_TIMEOUTS, retry_after=None,
                                      seaweedfs_master_url=self.seaweedfs_master_url)
            self._patient.before_network_call = self.before_network_call
        return self._patient

    def browser_origin(self):
        """Where the signer's URLs point, read from a URL made like theirs (virtual-hosted on AWS, path-style elsewhere).

        An unsigned twin of the signer builds it: signing would look up credentials,
        which on EC2 means a network call, and Locker starts without any.
        """
        endpoint_url, path_style = self.signer_address
        twin = _client(endpoint_url, self.region, path_style, signed=False)
        url = urlsplit(twin.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": "k"}))
        return f"{url.scheme}://{url.netloc}"

    def prepare(self):
        """Nothing: Locker starts while the store is unreachable; `flask locker setup-storage` sets it up."""

    def setup(self, origins):
        """Create the bucket if it is missing and give it the CORS rules browsers need; safe to repeat.

        Rules other than Locker's own (ID CORS_RULE_ID) are kept.
        """
        with self.errors(f"could not reach bucket {self.bucket!r}"):
            created = False
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if error.response["Error"]["Code"] not in MISSING_CODES:
                    raise
                kwargs = {"Bucket": self.bucket}
                if self.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                self.client.create_bucket(**kwargs)
                created = True
            others = [rule for rule in self.cors_rules() if rule.get("ID") != CORS_RULE_ID]
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={
                "CORSRules": others + [cors_rule(origins)]})
        return created

    def check(self, origin):
        return check_s3(self, origin)

    def cors_rules(self):
        try:
            return self.client.get_bucket_cors(Bucket=self.bucket)["CORSRules"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchCORSConfiguration":
                return []
            raise

    def presign_upload(self, key, size, content_type, expires, sha256=None):
        # If-None-Match: * (signed) makes S3 refuse the PUT when the key exists, so a
        # reused upload URL can never overwrite a file that is already stored.
        params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size,
                  "IfNoneMatch": "*"}
        headers = {"Content-Type": content_type, "If-None-Match": "*"}
        if sha256:
            params["ChecksumSHA256"] = headers["x-amz-checksum-sha256"] = _hex_to_b64(sha256)
        url = self.signer.generate_presigned_url("put_object", Params=params, ExpiresIn=presign_seconds(expires))
        return UploadRequest("PUT", url, headers)

    def stat(self, key):
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if error.response["Error"]["Code"] in MISSING_CODES:
                return None
            raise StorageError(f"could not read {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not read {key}: {error}") from error
        return ObjectInfo(size=head["ContentLength"], etag=head.get("ETag", "").strip('"') or None,
                          sha256=None if "-" in head.get("ETag", "") else _b64_to_hex(head.get("ChecksumSHA256")))

    def download_url(self, key, filename, content_type, expires, inline=False):
        return self.signer.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": key,
            "ResponseContentDisposition": content_disposition(filename, inline),
            "ResponseContentType": content_type,
        }, ExpiresIn=presign_seconds(expires))

    def delete(self, key):
        with self.errors(f"could not delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def health(self):
        """Ask the store with a short deadline; an answer also ends an outage the breaker has seen.

        A slow answer here does not open the breaker: its deadline is /readyz's, not
        the store's, and requests have their own timeouts. With a SeaweedFS master
        configured, a store that answers but lacks a copy is "degraded".
        """
        deadline = time.monotonic() + HEALTH_DEADLINE
        if self.breaker is not None and self.breaker.is_open and not self.breaker.admit():
            raise StorageError(f"bucket {self.bucket!r} not reachable: {self.breaker.last_error}")
        if self._probe is None:
            self._probe = _client(self.endpoint_url, self.region, self.path_style, PROBE_TIMEOUTS)
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            if self.breaker is not None and self.breaker.is_open:
                self.breaker.failed(error)  # the trial failed: wait another cooldown
            raise StorageError(f"bucket {self.bucket!r} not reachable: {error}") from error
        if self.breaker is not None:
            self.breaker.succeeded()
        if self.seaweedfs_master_url is None:
            return Health()
        replication = self.replication(deadline)
        if replication.state == "ok":
            return Health()
        return Health("degraded", replication.detail)

    def replication(self, deadline):
        """The master's word on copies, asked at most every REPLICATION_STATE_SECONDS and only before deadline."""
        asked = self._replication
        now = time.monotonic()
        if asked is not None and now - asked[0] < REPLICATION_STATE_SECONDS:
            return asked[1]
        left = min(PROBE_TIMEOUTS.read, deadline - now)
        if left <= 0.05:
            # Not remembered: the next check, with time to spare, asks.
            return ReplicationState("unknown", "no time was left to ask the SeaweedFS master")
        state = replication_state(self.seaweedfs_master_url, timeout=left)
        self._replication = (now, state)
        return state

    def check_writable(self):
        if self.seaweedfs_master_url is None:
            return
        if self.before_network_call is not None:
            self.before_network_call()
        refused = writes_refused(self.seaweedfs_master_url, self.bucket, timeout=PROBE_TIMEOUTS.read)
        if refused:
            raise StorageReadOnly(f"bucket {self.bucket!r} takes no new objects: {refused}")

    def open_read(self, key):
        with self.errors(f"could not read {key}"):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def read_head(self, key, length):
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRange":
                return b""  # an empty object has no first byte to start a range at
            raise StorageError(f"could not read {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not read {key}: {error}") from error
        with body:
            with self.errors(f"could not read {key}"):
                return body.read()

    def iter_objects(self, prefix):
        with self.errors("could not list the bucket"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"], item["Size"], _naive_utc(item["LastModified"]))

    @contextmanager
    def errors(self, doing):
        """Turn boto3's errors into StorageRejected (the client's parts) or StorageError (an outage)."""
        try:
            yield
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in REJECTED_CODES:
                raise StorageRejected(f"{doing}: {error.response['Error'].get('Message') or code}") from error
            raise StorageError(f"{doing}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"{doing}: {error}") from error

    def create_multipart(self, key, content_type, part_checksums=False, part_size=None):
        kwargs = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if part_checksums:
            kwargs["ChecksumAlgorithm"] = "SHA256"
        with self.errors("could not start a multipart upload"):
            return self.client.create_multipart_upload(**kwargs)["UploadId"]

    def presign_part(self, key, upload_id, number, size, expires, sha256=None):
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number,
                  "ContentLength": size}
        headers = {}
        if sha256:
            params["ChecksumSHA256"] = headers["x-amz-checksum-sha256"] = _hex_to_b64(sha256)
        url = self.signer.generate_presigned_url("upload_part", Params=params, ExpiresIn=presign_seconds(expires))
        return UploadRequest("PUT", url, headers)

    def list_parts(self, key, upload_id):
        parts = []
        try:
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                for item in page.get("Parts", []):
                    parts.append(StoredPart(item["PartNumber"], item["Size"], item["ETag"].strip('"'),
                                            _b64_to_hex(item.get("ChecksumSHA256"))))
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchUpload":
                return None
            raise StorageError(f"could not list parts of {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not list parts of {key}: {error}") from error
        return parts

    def complete_multipart(self, key, upload_id, parts):
        listed = []
        for part in parts:
            entry = {"PartNumber": part.number, "ETag": f'"{part.etag}"'}
            if part.sha256:
                entry["ChecksumSHA256"] = _hex_to_b64(part.sha256)
            listed.append(entry)
        with self.errors("could not complete the upload"):
            joined = self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                           MultipartUpload={"Parts": listed})
        # S3 has checked every part against the list, so the object is exactly their sum. Its
        # SHA-256, if any, is composite (a digest of the parts' digests), not the object's.
        return ObjectInfo(size=sum(part.size for part in parts), etag=joined.get("ETag", "").strip('"') or None)

    def abort_multipart(self, key, upload_id):
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchUpload":
                raise StorageError(f"could not abort the upload of {key}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"could not abort the upload of {key}: {error}") from error

    def iter_multipart_uploads(self, prefix):
        with self.errors("could not list multipart uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Uploads", []):
                    yield PendingMultipart(item["Key"], item["UploadId"], _naive_utc(item["Initiated"]))
