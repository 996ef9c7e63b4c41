#!/usr/bin/env python3
"""Trace overhead: wall time of `shenzi trace -- APP` against `APP` alone.

Runs are interleaved (untraced, traced, untraced, ...) so that machine noise hits both
sides alike; reports median, min and max of each and the ratio of medians.
`bench/run.py` measures the same thing as its section 5; this script is the quick
stand-alone version.

    python3 bench/trace_overhead.py [--runs N] [--shenzi PATH]

Apps measured:
  stdlib   examples/stdlib_app (4 Python processes: spawn pool, subprocess, tracker)
  wheels   bench/app/app.py: one process importing numpy, PIL, lxml and cryptography,
           in the venv bench/run.py prepares (skipped until it exists)
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import CACHE, ROOT, Step, interleave, pyenv_python, ratio, run, summary, timed  # noqa: E402


def measure(name, app, cwd, shenzi, runs):
    """Interleaved untraced/traced runs of `app`; returns (untraced series, traced series)."""
    manifest = os.path.join(tempfile.mkdtemp(prefix="shenzi-bench-"), "m.json")
    traced_cmd = [shenzi, "trace", "-o", manifest, "--"] + app
    timed(app, cwd), timed(traced_cmd, cwd)  # warm the page cache
    series = interleave(
        [Step("untraced", lambda: timed(app, cwd)), Step("traced", lambda: timed(traced_cmd, cwd))],
        runs, "trace overhead, " + name,
    )
    return series["untraced"], series["traced"]


def row(name, plain, traced):
    return "| %s | %s | %s | %.2f× |" % (name, summary(plain, "ms"), summary(traced, "ms"), ratio(traced, plain))


def apps():
    """(name, argv, cwd) of the apps measured; the wheels app only once its venv exists."""
    found = [("stdlib (4 processes)", [pyenv_python(11), "app.py"], os.path.join(ROOT, "examples", "stdlib_app"))]
    venv_py = os.path.join(CACHE, "venv-app", "bin", "python")
    if os.path.exists(venv_py):
        found.append(("wheels (1 process)", [venv_py, os.path.join(ROOT, "bench", "app", "app.py")], ROOT))
    else:
        print("SKIPPED wheels: run python3 bench/run.py once to prepare its venv", file=sys.stderr)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--shenzi", default=os.path.join(ROOT, "target", "release", "shenzi"))
    args = parser.parse_args()
    if not os.path.exists(args.shenzi):
        run(["cargo", "build", "--release", "--quiet"])
    print("runs: %d each, interleaved; times in ms: median (min–max)" % args.runs)
    print("| app | untraced | traced | ratio |")
    print("| --- | --- | --- | --- |")
    for name, app, cwd in apps():
        print(row(name, *measure(name, app, cwd, args.shenzi, args.runs)), flush=True)


if __name__ == "__main__":
    main()
