"""Gunicorn settings for Locker: `make run`, bench/transfer.py and production pass this file with -c."""
from gunicorn.http.unreader import SocketUnreader

# gunicorn receives a request body up to 1 MiB per recv() and passes it to the application
# through two buffers of its own, copying whatever a read did not take yet; four 16 MiB parts
# arriving at once held about 20 MiB there. Receiving in the pieces local storage reads
# (its CHUNK_SIZE) hands each piece on whole, a few hundred KiB per upload. The number is
# written here, not imported: importing the app would load it into the master process, and
# workers forked after a reload (HUP) would run that old code. tests/test_config.py checks
# that the two agree and that the pinned gunicorn still reads this attribute.
SocketUnreader.max_body_chunk = 128 * 1024
