"""Stopping what the tests, the benchmarks and `make run-s3` start in process groups of their own."""
import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, term_wait: float = 30, kill_wait: float = 10) -> None:
    """TERM a process started in a session of its own and all its children; KILL them if they linger."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, term_wait), (signal.SIGKILL, kill_wait)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
