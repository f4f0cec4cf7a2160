"""Gunicorn settings for Locker: `make run`, bench/transfer.py and production pass this file with -c."""
from gunicorn.http.unreader import SocketUnreader

from app.storage.local import CHUNK_SIZE

# gunicorn receives a request body up to 1 MiB per recv() and passes it to the application
# through two buffers of its own, copying whatever a read did not take yet; four 16 MiB parts
# arriving at once held about 20 MiB there. Receiving in the pieces local storage reads
# hands each piece on whole, a few hundred KiB per upload. (An internal attribute of the
# pinned gunicorn: tests/test_config.py fails if an upgrade drops it.)
SocketUnreader.max_body_chunk = CHUNK_SIZE
