#!/usr/bin/env python3
"""Trace overhead: wall time of `shenzi trace -- APP` against `APP` alone.

Runs are interleaved (untraced, traced, untraced, ...) so that machine noise hits both
sides alike; reports median, min and max of each and the ratio of medians.

    python3 bench/trace_overhead.py [--runs N] [--shenzi PATH]

Apps measured:
  stdlib   examples/stdlib_app (4 Python processes: spawn pool, subprocess, tracker)
  wheels   one process importing numpy, PIL, lxml and cryptography (the wheel venv
           made by scripts/setup)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pyenv_python(minor):
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    versions = sorted(
        v for v in os.listdir(os.path.join(root, "versions")) if v.startswith("3.%d." % minor)
    )
    return os.path.join(root, "versions", versions[-1], "bin", "python3")


def timed(cmd, cwd):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(name, app, cwd, shenzi, runs):
    out = tempfile.mkdtemp(prefix="shenzi-bench-")
    traced_cmd = [shenzi, "trace", "-o", os.path.join(out, "m.json"), "--"] + app
    timed(app, cwd), timed(traced_cmd, cwd)  # warm the page cache
    plain, traced = [], []
    for _ in range(runs):
        plain.append(timed(app, cwd))
        traced.append(timed(traced_cmd, cwd))
    ratio = statistics.median(traced) / statistics.median(plain)
    row = "| %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %.2f× |" % (
        name,
        statistics.median(plain) * 1000, min(plain) * 1000, max(plain) * 1000,
        statistics.median(traced) * 1000, min(traced) * 1000, max(traced) * 1000,
        ratio,
    )
    print(row, flush=True)
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--shenzi", default=os.path.join(ROOT, "target", "release", "shenzi"))
    args = parser.parse_args()
    if not os.path.exists(args.shenzi):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    py = pyenv_python(11)
    venv_py = os.path.join(ROOT, ".cache", "venvs", "wheels-3.11", "bin", "python")
    print("runs: %d each, interleaved; times in ms: median (min–max)" % args.runs)
    print("| app | untraced | traced | ratio |")
    print("| --- | --- | --- | --- |")
    measure("stdlib (4 processes)", [py, "app.py"], os.path.join(ROOT, "examples", "stdlib_app"), args.shenzi, args.runs)
    if os.path.exists(venv_py):
        app = [venv_py, "-c", "import numpy, PIL.Image, lxml.etree, cryptography.hazmat.bindings._rust"]
        measure("wheels (1 process)", app, ROOT, args.shenzi, args.runs)
    else:
        print("SKIPPED wheels: run scripts/setup first", file=sys.stderr)


if __name__ == "__main__":
    main()
