"""Runs a command and measures it from outside, the same way for Recur's
binaries and PyTorch's scripts, for `cargo xtask bench apps`.

    python xtask/bench/measure.py -- COMMAND [ARGS...]

The command's standard output passes through; then one JSON line follows
with its peak resident memory (the kernel's high-water mark of the one
child, from getrusage(RUSAGE_CHILDREN), whose ru_maxrss on Linux is in KiB)
and its wall-clock seconds. Exits with the command's status.
"""

import json
import resource
import subprocess
import sys
import time


def main():
    command = sys.argv[2:] if sys.argv[1:2] == ["--"] else sys.argv[1:]
    started = time.perf_counter()
    status = subprocess.run(command).returncode
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"peak_rss_mib": peak_kib / 1024, "wall_seconds": seconds}), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
