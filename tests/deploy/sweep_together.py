"""`flask --app wsgi locker sweep`, held back until released: a test's barrier, not part of Locker.

Run as `python -m tests.deploy.sweep_together FOLDER`. Once the app is loaded and the sweep is about
to begin, it leaves a file named after its pid in FOLDER and waits for FOLDER/go; two of them
released together begin sweeping within milliseconds of each other, whatever their start-up
took. Each writes when its sweep began and ended (time.time()) to FOLDER/<pid>.times.
"""
import os
import sys
import time
from pathlib import Path

from flask.cli import main

from app.services import maintenance

WAIT_FOR_RELEASE = 300  # seconds; the test releases both as soon as both are here


def sweep_when_released(folder, sweep):
    def held(**kwargs):
        (folder / str(os.getpid())).touch()
        deadline = time.monotonic() + WAIT_FOR_RELEASE
        while not (folder / "go").exists():
            if time.monotonic() > deadline:
                sys.exit("never released")
            time.sleep(0.005)
        began = time.time()
        try:
            return sweep(**kwargs)
        finally:
            (folder / f"{os.getpid()}.times").write_text(f"{began} {time.time()}")
    return held


if __name__ == "__main__":
    maintenance.sweep = sweep_when_released(Path(sys.argv[1]), maintenance.sweep)
    sys.argv = ["flask", "--app", "wsgi", "locker", "sweep"]
    main()
