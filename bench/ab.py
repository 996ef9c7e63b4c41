#!/usr/bin/env python3
"""Before/after: two shenzi binaries side by side against the `cp -a` floor.

    python3 bench/ab.py --before OLD_SHENZI [--after target/release/shenzi] [--rounds 10]

Build the "before" binary from another checkout (for example
`git worktree add /tmp/old COMMIT && cargo build --release --manifest-path /tmp/old/Cargo.toml`).
Uses the bench app's manifest, `.cache/bench/app.json`, which `python3 bench/run.py` makes
(run it once first). Every round runs, in order and each onto a fresh folder: `plan` and
`apply` of both binaries, `apply --no-verify` of the after one, and `cp -a` of a dist the
after binary wrote. Prints a markdown table of median (min–max) seconds and each median's
ratio to the `cp -a` median. Not a test: timings are not assertions.
"""

import argparse
import os
import sys

from benchlib import CACHE, ROOT, Step, interleave, ratio, remove, run, summary, timed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the shenzi binary to compare against")
    parser.add_argument("--after", default=os.path.join(ROOT, "target/release/shenzi"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--layout", default="default")
    args = parser.parse_args()
    manifest = os.path.join(CACHE, "app.json")
    if not os.path.exists(manifest):
        sys.exit("bench/ab.py: no %s yet; run `python3 bench/run.py` once first" % manifest)
    work = os.path.join(CACHE, "ab")
    remove(work)
    os.makedirs(work)
    reference = os.path.join(work, "reference")
    run([args.after, "apply", args.layout, manifest, "-o", reference])

    def plan(binary):
        return lambda: timed([binary, "plan", args.layout, manifest])

    def cold(command, target):
        """A run onto a fresh `target`."""
        return lambda: timed(command + [target]), lambda: remove(target)

    def apply(binary, name, *extra):
        return cold([binary, "apply", args.layout, manifest, *extra, "-o"], os.path.join(work, name))

    steps = [
        Step("`shenzi plan`, before", plan(args.before)),
        Step("`shenzi plan`, after", plan(args.after)),
        Step("`shenzi apply`, before", *apply(args.before, "before")),
        Step("`shenzi apply`, after", *apply(args.after, "after")),
        Step("`shenzi apply --no-verify`, after", *apply(args.after, "after-nv", "--no-verify")),
        Step("`cp -a` of the dist", *cold(["cp", "-a", reference], os.path.join(work, "cp"))),
    ]
    series = interleave(steps, args.rounds, "ab")
    floor = series["`cp -a` of the dist"]
    print("| command | seconds, median (min–max) | ÷ `cp -a` |")
    print("| --- | --- | --- |")
    for step in steps:
        values = series[step.name]
        print("| %s | %s | %.2f× |" % (step.name, summary(values), ratio(values, floor)))
    remove(work)


if __name__ == "__main__":
    main()
