"""The KB-adaptation child process ends with the server, and on its own when the server dies
(issue 14, finding 6). The child runs `time.sleep` in place of training: same process handling,
seconds instead of minutes and gigabytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.utils import REPO


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_stopping_adaptation_ends_the_child_and_the_caller_returns():
    from retrieval import adaptation

    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(adaptation.adapt_in_subprocess(120, target=time.sleep))
        except BaseException as exc:  # recorded for the assertion below
            outcome.append(exc)

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    assert wait_until(lambda: adaptation.adaptation_children(), 60)
    [pid] = adaptation.adaptation_children()
    assert alive(pid)
    adaptation.stop_adaptation()
    caller.join(15)
    assert not caller.is_alive()
    assert not alive(pid)
    assert isinstance(outcome[0], adaptation.AdaptationStopped)
    assert adaptation.adaptation_children() == []


PARENT = """
import sys, threading, time
from retrieval import adaptation
threading.Thread(target=adaptation.adapt_in_subprocess, args=(120,),
                 kwargs={"target": time.sleep}, daemon=True).start()
while not adaptation.adaptation_children():
    time.sleep(0.05)
print(adaptation.adaptation_children()[0], flush=True)
time.sleep(120)
"""


def test_the_child_exits_by_itself_when_the_server_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), line
        child = int(line)
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert wait_until(lambda: not alive(child), 15), "the orphaned child kept running"
    finally:
        parent.kill()
        parent.wait(10)
        if line.strip().isdigit() and alive(int(line)):
            os.kill(int(line), signal.SIGKILL)
