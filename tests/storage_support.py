"""What the storage test modules share: server-made keys, the names that must survive, byte streams."""
import hashlib
import uuid
from urllib.parse import unquote

# Names whose bytes are not ASCII: the header must carry them intact (RFC 6266 / 5987).
UNICODE_NAMES = ["résumé 2026.pdf", "文件.txt"]


def new_key(owner_id=1):
    """A storage key made the way the upload service makes them: no part of a filename in it."""
    return f"u/{owner_id}/{uuid.uuid4().hex}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def disposition_parts(header):
    """(kind, ASCII fallback, decoded filename*) of a Content-Disposition header value."""
    kind, _, rest = header.partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        params[name.lower()] = value
    extended = params.get("filename*", "")
    assert extended.startswith("UTF-8''"), f"no filename*=UTF-8'' in {header!r}"
    return kind.strip().lower(), params.get("filename", "").strip('"'), unquote(extended[len("UTF-8''"):],
                                                                                 encoding="utf-8", errors="strict")


def pattern_block(size=1024 * 1024):
    """A 1 MiB block of varied bytes, so a stream built from it is not trivially compressible."""
    seed = hashlib.sha256(b"locker").digest()
    return (seed * (size // len(seed) + 1))[:size]


class PatternReader:
    """A file-like body of `size` bytes made on demand from one block: the test never holds it whole.

    It records the largest read so a test can tell the app streamed the body
    instead of reading it in one go. `stop_after` makes the stream end early,
    the way a client that hangs up mid-upload looks to the server.
    """

    def __init__(self, size, stop_after=None):
        self.size = size
        self.stop_after = size if stop_after is None else stop_after
        self.position = 0
        self.block = pattern_block()
        self.largest_read = 0
        self.reads = 0

    def read(self, n=-1):
        left = max(0, self.stop_after - self.position)
        if n is None or n < 0:
            n = left
        n = min(n, left)
        self.reads += 1
        self.largest_read = max(self.largest_read, n)
        start = self.position % len(self.block)
        chunk = bytearray()
        while len(chunk) < n:
            piece = self.block[start:start + n - len(chunk)]
            chunk += piece
            start = 0
        self.position += n
        return bytes(chunk)

    # The Werkzeug test client measures the body by seeking; report the declared size.
    def tell(self):
        return self.position

    def seek(self, offset, whence=0):
        if whence == 2:
            self.position = self.size + offset
        else:
            self.position = offset if whence == 0 else self.position + offset
        return self.position

    @staticmethod
    def digest(size):
        """The sha256 hex of the `size` bytes a PatternReader yields, computed in chunks."""
        reader = PatternReader(size)
        digest = hashlib.sha256()
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()
