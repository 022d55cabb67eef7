"""A measurement in a child process of its own (a fresh interpreter, its own peak RSS), and its result.

The child prints ``RESULT {json}`` as its last such line (:func:`report`); the parent runs it with
:func:`run_child` and reads that line back, or fails with the child's output.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

MARK = "RESULT "


def report(result: dict) -> None:
    """In the child: hand ``result`` to the parent."""
    print(MARK + json.dumps(result), flush=True)


def run_child(script: str, *args: str, what: str) -> dict:
    """Run ``script`` with ``args`` in a fresh interpreter; the result it reported (``what`` names it)."""
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not lines:
        raise RuntimeError(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK) :])


def peak_rss_mb() -> float:
    """This process's own high-water mark (``VmHWM``): a child's ``ru_maxrss`` on Linux starts from its
    parent's size, so it would count the launcher; ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
