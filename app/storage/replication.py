"""What a SeaweedFS master says about the copies it keeps (S3_SEAWEEDFS_MASTER_URL).

Locker never copies objects itself: the store keeps each one on as many volume
servers as its replication asks ("001": two servers of one rack). When one of
them is down, reads go on from the other copy, but a volume missing a copy
takes no writes, and with too few servers left for a new volume the S3 gateway
holds each upload for ~30 s and then answers 500. The master knows both things
at once, so Locker asks it: for /readyz, and before handing out upload URLs.
"""
import json
import logging
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote

log = logging.getLogger(__name__)

# Volumes named in a report; a large store may have thousands short of a copy.
NAMED_VOLUMES = 5


@dataclass(frozen=True)
class ReplicationState:
    state: str  # "ok", "degraded" (a volume lacks a copy, or no volume server is up) or "unknown"
    detail: str


def ask_master(master_url, path, timeout):
    """(HTTP status, parsed JSON) of GET master_url + path; OSError or ValueError when it does not answer JSON."""
    try:
        with urllib.request.urlopen(master_url.rstrip("/") + path, timeout=timeout) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def copies_needed(placement):
    """Copies a ReplicaPlacement asks for: the first, plus others in other data centres, racks and servers."""
    return 1 + sum(placement.get(level, 0) for level in ("dc", "rack", "node"))


def describe(collection, volume_id, holders, needed):
    return (f"volume {volume_id} ({collection or 'no collection'}) has {len(holders)} of {needed} copies, "
            f"on {', '.join(sorted(holders))}")


def copies_by_volume(centres):
    """(servers connected, {(collection, id): servers with a copy}, {(collection, id): copies needed})."""
    servers = set()
    holders = defaultdict(list)
    needed = {}
    for racks in centres.values():
        for nodes in racks.values():
            for server, volumes in nodes.items():
                servers.add(server)
                for volume in volumes or []:
                    volume_key = (volume.get("Collection", ""), volume["Id"])
                    holders[volume_key].append(server)
                    needed[volume_key] = copies_needed(volume.get("ReplicaPlacement") or {})
    return servers, holders, needed


def replication_state(master_url, timeout=1.0):
    """Whether every volume the master knows has the copies its replication asks for, from its /vol/status."""
    try:
        status, answer = ask_master(master_url, "/vol/status", timeout)
        if status != 200:
            return ReplicationState("unknown", f"the SeaweedFS master answered {status}")
        servers, holders, needed = copies_by_volume(answer["Volumes"]["DataCenters"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return ReplicationState("unknown", f"the SeaweedFS master did not answer: {error}")
    if not servers:
        return ReplicationState("degraded", "no volume server is connected to the SeaweedFS master")
    short = sorted(key for key in holders if len(holders[key]) < needed[key])
    if not short:
        return ReplicationState("ok", f"{len(holders)} volumes on {len(servers)} volume servers, each with "
                                      "every copy its replication asks for")
    named = "; ".join(describe(collection, volume_id, holders[collection, volume_id], needed[collection, volume_id])
                      for collection, volume_id in short[:NAMED_VOLUMES])
    more = f"; and {len(short) - NAMED_VOLUMES} more" if len(short) > NAMED_VOLUMES else ""
    return ReplicationState("degraded", f"a volume server holding copies is missing ({len(servers)} connected): "
                                        f"{named}{more}")


def writes_refused(master_url, collection, timeout=1.0):
    """Why the store cannot place a new object of `collection` now, or None when it can (or cannot tell).

    Asks the master for a file id as the S3 gateway does before each write (/dir/assign): it answers
    at once when no volume can take one, where the gateway would keep retrying for ~30 s. An id the
    master hands out and nobody writes to is simply never used.
    """
    try:
        status, answer = ask_master(master_url, f"/dir/assign?collection={quote(collection)}", timeout)
    except (OSError, ValueError) as error:
        log.warning("SeaweedFS master did not answer /dir/assign: %s", error)
        return None  # not knowing is no reason to refuse: the upload itself will tell
    # The master's own refusal is JSON with a non-empty "error" (406, "no free volumes left"...);
    # any other answer (a 401 from a secured master, a proxy's 404) says nothing about the volumes.
    refusal = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(refusal, str) and refusal:
        return refusal
    if status != 200:
        log.warning("SeaweedFS master answered /dir/assign with %s, not a file id; uploads go on", status)
    return None
