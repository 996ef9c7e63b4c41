#!/usr/bin/env python3
"""Trace overhead: wall time of `shenzi trace -- APP` against `APP` alone.

Runs are interleaved (untraced, audit only, traced, untraced, ...) so that machine noise
hits every side alike; reports median, min and max of each and the ratios of medians.
"audit only" turns the system-call level off (`SHENZI_TRACE_SYSCALLS=0`).
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
    """Interleaved untraced, audit-only and full traces of `app`; returns the three series.

    "audit only" is the trace with its system-call level turned off
    (`SHENZI_TRACE_SYSCALLS=0`): the difference to "traced" is what recording native
    opens and execs costs.
    """
    manifest = os.path.join(tempfile.mkdtemp(prefix="shenzi-bench-"), "m.json")
    traced_cmd = [shenzi, "trace", "-o", manifest, "--"] + app
    audit_env = dict(os.environ, SHENZI_TRACE_SYSCALLS="0")
    full_env = {k: v for k, v in os.environ.items() if k != "SHENZI_TRACE_SYSCALLS"}
    timed(app, cwd), timed(traced_cmd, cwd, full_env)  # warm the page cache
    series = interleave(
        [
            Step("untraced", lambda: timed(app, cwd)),
            Step("audit only", lambda: timed(traced_cmd, cwd, audit_env)),
            Step("traced", lambda: timed(traced_cmd, cwd, full_env)),
        ],
        runs, "trace overhead, " + name,
    )
    return series["untraced"], series["audit only"], series["traced"]


def row(name, plain, audit, traced):
    return "| %s | %s | %s | %s | %.2f× | %.2f× |" % (
        name, summary(plain, "ms"), summary(audit, "ms"), summary(traced, "ms"),
        ratio(audit, plain), ratio(traced, plain),
    )


def apps():
    """(name, argv, cwd) of the apps measured; the wheels app only once its venv exists."""
    found = [("stdlib (4 processes)", [pyenv_python(11), "app.py"], os.path.join(ROOT, "examples", "stdlib_app"))]
    venv_py = os.path.join(CACHE, "venv-app", "bin", "python")
    if not os.path.exists(venv_py):
        # The venv of the same wheels that scripts/setup prepares for the tests.
        venv_py = os.path.join(ROOT, ".cache", "venvs", "wheels-3.11", "bin", "python")
    if os.path.exists(venv_py):
        found.append(("wheels (1 process)", [venv_py, os.path.join(ROOT, "bench", "app", "app.py")], ROOT))
    else:
        print("SKIPPED wheels: run python3 bench/run.py or scripts/setup once to prepare its venv", file=sys.stderr)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--shenzi", default=os.path.join(ROOT, "target", "release", "shenzi"))
    args = parser.parse_args()
    if not os.path.exists(args.shenzi):
        run(["cargo", "build", "--release", "--quiet"])
    print("runs: %d each, interleaved; times in ms: median (min–max)" % args.runs)
    print("| app | untraced | traced, audit only | traced | audit only / untraced | traced / untraced |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, app, cwd in apps():
        print(row(name, *measure(name, app, cwd, args.shenzi, args.runs)), flush=True)


if __name__ == "__main__":
    main()
