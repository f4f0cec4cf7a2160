"""A Redis server of the tests' own, on a free loopback port, stopped afterwards."""
import os
import signal
import socket
import subprocess
import time

import pytest
import redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """redis://127.0.0.1:<port>: a redis-server started for this run, keeping nothing on disk."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)
