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
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the shenzi binary to compare against")
    parser.add_argument("--after", default=os.path.join(ROOT, "target/release/shenzi"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--layout", default="default")
    args = parser.parse_args()
    manifest = os.path.join(ROOT, ".cache/bench/app.json")
    if not os.path.exists(manifest):
        sys.exit("bench/ab.py: no %s yet; run `python3 bench/run.py` once first" % manifest)
    work = os.path.join(ROOT, ".cache/bench/ab")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    reference = os.path.join(work, "reference")
    subprocess.run([args.after, "apply", args.layout, manifest, "-o", reference], capture_output=True, check=True)

    def out(name):
        return os.path.join(work, name)

    commands = [
        ("`shenzi plan`, before", [args.before, "plan", args.layout, manifest], None),
        ("`shenzi plan`, after", [args.after, "plan", args.layout, manifest], None),
        ("`shenzi apply`, before", [args.before, "apply", args.layout, manifest, "-o", out("before")], out("before")),
        ("`shenzi apply`, after", [args.after, "apply", args.layout, manifest, "-o", out("after")], out("after")),
        ("`shenzi apply --no-verify`, after",
         [args.after, "apply", args.layout, manifest, "-o", out("after-nv"), "--no-verify"], out("after-nv")),
        ("`cp -a` of the dist", ["cp", "-a", reference, out("cp")], out("cp")),
    ]
    series = {name: [] for name, _, _ in commands}
    for round_ in range(args.rounds):
        for name, command, target in commands:
            if target:
                shutil.rmtree(target, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            series[name].append(time.perf_counter() - start)
        print("[ab] round %d/%d done" % (round_ + 1, args.rounds), file=sys.stderr)
    floor = statistics.median(series["`cp -a` of the dist"])
    print("| command | seconds, median (min–max) | ÷ `cp -a` |")
    print("| --- | --- | --- |")
    for name, values in series.items():
        median = statistics.median(values)
        print("| %s | %.3f (%.3f–%.3f) | %.2f× |" % (name, median, min(values), max(values), median / floor))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
