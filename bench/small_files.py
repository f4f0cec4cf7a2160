"""How long a folder of small files takes to upload: in batches (`locker upload -r`) and one by one.

Run by hand: `.venv/bin/python bench/small_files.py [COUNT] [SIZE_KIB]` (200 files of 64 KiB by
default). Locker runs under gunicorn as `make run` starts it (SQLite, local storage), in a
temporary folder. Batched is `locker upload -r DIR --json`, run as `python -m locker_client` from
this checkout so that the code measured is this one (the `locker` script may import another);
one by one is the same client calling `Locker.upload` per file, what `locker upload` did before
batches, also in a process of its own. Each run uploads as a new user, so no name is numbered.
Prints both median times, their ratio and the conditions.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import make_config  # noqa: E402
from tests.live_support import Gunicorn  # noqa: E402

RUNS = 3
ONE_BY_ONE = """
import sys
from pathlib import Path
from locker_client import Locker
with Locker(sys.argv[1], token=sys.argv[2]) as lk:
    for path in sorted(p for p in Path(sys.argv[3]).rglob("*") if p.is_file()):
        lk.upload(path)
"""


def make_files(folder, count, size):
    generator = random.Random(0)
    for number in range(count):
        (folder / f"f{number:04}.bin").write_bytes(generator.randbytes(size))


def timed(argv, env):
    began = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    if result.returncode:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n{result.stderr}")
    return elapsed, result.stdout


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    size = (int(sys.argv[2]) if len(sys.argv) > 2 else 64) * 1024
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        source = folder / "source"
        source.mkdir()
        make_files(source, count, size)
        server = Gunicorn(folder, make_config)
        server.start()
        try:
            env = {**os.environ, "LOCKER_CONFIG_DIR": str(folder / "config"), "LOCKER_STATE_DIR": str(folder / "state"),
                   "LOCKER_URL": server.url}
            batched, one_by_one = [], []
            for _ in range(RUNS):  # alternating, so a busy moment on the machine hits both alike
                elapsed, output = timed([sys.executable, "-m", "locker_client", "upload", "-r", "--json", str(source)],
                                        {**env, "LOCKER_TOKEN": server.token()})
                assert len(json.loads(output)) == count, "every file is uploaded"
                batched.append(elapsed)
                one_by_one.append(timed([sys.executable, "-c", ONE_BY_ONE, server.url, server.token(), str(source)],
                                        env)[0])
            batched, one_by_one = statistics.median(batched), statistics.median(one_by_one)
        finally:
            server.stop()
    print(f"{count} files of {size // 1024} KiB, median of {RUNS}, gunicorn as `make run` starts it (SQLite, local storage), "
          f"{os.cpu_count()} cores shared by client and server")
    print(f"batched (locker upload -r): {batched:7.2f} s")
    print(f"one by one (Locker.upload): {one_by_one:7.2f} s")
    print(f"one by one / batched:       {one_by_one / batched:7.2f}x")


if __name__ == "__main__":
    main()
