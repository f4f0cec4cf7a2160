"""A TCP proxy in front of a store that can make it answer, stall or refuse, the way a real store fails.

`stall` accepts connections and forwards nothing, as a store stopped with
SIGSTOP looks to a client (the kernel still completes the handshake);
`refuse` closes every connection at once, those already open at their next message, as a store
that is down or restarting;
`mute` lets requests through but drops the answers, as a store that did the
work and then stopped answering.
"""
import socket
import threading
from urllib.parse import urlsplit

import pytest

PASS, STALL, REFUSE, MUTE = "pass", "stall", "refuse", "mute"


class FaultyProxy:
    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.mode = PASS
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.held = []
        self.connections = 0  # every connection a client opened, whatever the mode
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.mode == REFUSE:
                client.close()
            elif self.mode == STALL:
                with self.lock:
                    self.held.append(client)
            else:
                threading.Thread(target=self.forward, args=(client,), daemon=True).start()

    def forward(self, client):
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            client.close()
            return
        threading.Thread(target=self.pipe, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=self.pipe, args=(upstream, client, True), daemon=True).start()

    def pipe(self, source, sink, answers):
        try:
            while (chunk := source.recv(65536)) and self.mode in (PASS, MUTE):
                if not (answers and self.mode == MUTE):
                    sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def set(self, mode):
        """Switch mode; leaving STALL drops the connections it held, as a resumed store's clients see."""
        self.mode = mode
        if mode != STALL:
            with self.lock:
                for connection in self.held:
                    connection.close()
                self.held.clear()

    def close(self):
        self.closed = True
        self.set(PASS)
        self.listener.close()


@pytest.fixture
def proxy_to():
    """Puts a FaultyProxy in front of a server's URL (scheme://host:port); each is closed after the test."""
    made = []

    def make(url):
        target = urlsplit(url)
        made.append(FaultyProxy(target.hostname, target.port))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()
