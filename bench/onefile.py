#!/usr/bin/env python3
"""The onefile benchmark (docs/onefile.md): shenzi's onefile of the bench app against
shenzi's onedir dist and PyInstaller's `--onefile`, side by side in one run.

    python3 bench/onefile.py            # rewrites the onefile block of docs/performance.md
    python3 bench/onefile.py --quick    # fewer rounds; writes .cache/bench/onefile-quick.md

It prepares the same environment as bench/run.py (under .cache/bench/, or
$SHENZI_BENCH_CACHE): the app's venv, PyInstaller's venv, the traced manifest. Then,
interleaved (A B C D, A B C D, ...), the time to the app's first line ("ready", printed
before any import) and to its exit of:
  - shenzi onefile, first start: its cache folder removed before each run, so each run
    decompresses, checks and writes the whole dist, then runs it;
  - shenzi onefile, later start: the cache folder in place (one stat, then exec);
  - shenzi onedir: the dist `shenzi apply default` writes;
  - PyInstaller --onefile: which extracts to a fresh temporary folder at every start.
And the file sizes: shenzi's onefile (and its stub) against PyInstaller's.
"""

import argparse
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402
from benchlib import (  # noqa: E402
    CACHE, ROOT, Step, first_output, interleave, log, machine_facts, ratio, remove, run, summary, timed,
)

BEGIN, END = "<!-- bench-onefile:begin (written by bench/onefile.py) -->", "<!-- bench-onefile:end -->"
MB = 1e6


def write_block(path, block):
    text = open(path).read() if os.path.exists(path) else "# Onefile benchmark\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + "\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(block).rstrip() + "\n" + END + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="interleaved rounds (default 15; quick 5)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shenzi", help="a shenzi binary to measure (default: build this checkout's)")
    parser.add_argument("--out", help="report file (default docs/performance.md)")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    out_path = args.out or (os.path.join(CACHE, "onefile-quick.md") if args.quick else
                            os.path.join(ROOT, "docs", "performance.md"))

    env = bench_run.prepare(args.shenzi)
    facts = machine_facts(CACHE)
    work = os.path.join(CACHE, "onefile")
    remove(work)
    os.makedirs(work)
    onedir = os.path.join(work, "onedir")
    log("shenzi apply default (onedir)")
    run(env.apply_cmd("default", env.manifest, onedir))
    log("shenzi apply default --onefile")
    built = os.path.join(work, "shenzi-onefile")
    onefile_build = timed(env.apply_cmd("default", env.manifest, built) + ["--onefile"])
    onefile = os.path.join(built, "app")
    log("shenzi apply minimal --onefile")
    built_min = os.path.join(work, "shenzi-onefile-minimal")
    onefile_min_build = timed(env.apply_cmd("minimal", env.manifest, built_min) + ["--onefile"])
    onefile_min = os.path.join(built_min, "app")
    onedir_min = os.path.join(work, "onedir-minimal")
    run(env.apply_cmd("minimal", env.manifest, onedir_min))
    log("pyinstaller --onefile")
    pyi_dist = os.path.join(work, "pyi-onefile")
    pyi_cmd = env.pyinstaller_cmd(pyi_dist, os.path.join(work, "pyi-work"))
    pyi_cmd[pyi_cmd.index("--onedir")] = "--onefile"
    pyi_build = timed(pyi_cmd, env=env.pyi_env)
    pyi = os.path.join(pyi_dist, "app")

    cache = os.path.join(work, "cache")
    os.environ["SHENZI_CACHE_DIR"] = cache  # inherited by every run below
    pyi_tmp = os.path.join(work, "pyi-tmp")
    os.makedirs(pyi_tmp)
    os.environ["TMPDIR"] = pyi_tmp  # PyInstaller extracts below it; emptied after each run

    expected = run([env.app_python, bench_run.APP]).stdout
    for name, cmd in (("shenzi onefile", [onefile]), ("shenzi onefile (minimal)", [onefile_min]), ("shenzi onedir", [os.path.join(onedir, "bin", "app")]),
                      ("PyInstaller onefile", [pyi])):
        got = run(cmd).stdout
        if got != expected:
            sys.exit("bench: %s prints something else than the app in its venv" % name)
    # Warm the page cache of every file read.
    for cmd in ([onefile], [onefile_min], [os.path.join(onedir, "bin", "app")], [pyi]):
        first_output(cmd)

    def fresh_cache():
        remove(cache)

    # The same two first starts with their extraction on tmpfs (/dev/shm): what the
    # programs cost without the output filesystem's price per created file.
    shm = os.path.join("/dev/shm", "shenzi-bench-onefile-%d" % os.getpid())
    shm_cache, shm_pyi = os.path.join(shm, "cache"), os.path.join(shm, "pyi")

    def on_shm(cmd, var, folder):
        def measure():
            remove(folder)
            os.makedirs(folder)
            saved = os.environ[var]
            os.environ[var] = folder
            try:
                return first_output(cmd)
            finally:
                os.environ[var] = saved
        return measure

    def both_shm(name, cmd, var, folder):
        measure = on_shm(cmd, var, folder)
        return lambda: dict(zip((name + ": ready", name + ": exit"), measure()))

    def empty_pyi_tmp():
        for name in os.listdir(pyi_tmp):
            remove(os.path.join(pyi_tmp, name))

    def both(name, cmd):
        return lambda: dict(zip((name + ": ready", name + ": exit"), first_output(cmd)))

    steps = [
        Step("shenzi onefile, first start", both("shenzi onefile, first start", [onefile]), prepare=fresh_cache),
        Step("shenzi onefile, later start", both("shenzi onefile, later start", [onefile])),
        Step("shenzi onefile (minimal), first start", both("shenzi onefile (minimal), first start", [onefile_min]),
             prepare=fresh_cache),
        Step("shenzi onedir", both("shenzi onedir", [os.path.join(onedir, "bin", "app")])),
        Step("PyInstaller onefile", both("PyInstaller onefile", [pyi]), prepare=empty_pyi_tmp),
    ]
    if os.path.isdir("/dev/shm"):
        steps += [
            Step("shenzi onefile, first start, cache on tmpfs", both_shm(
                "shenzi onefile, first start, cache on tmpfs", [onefile], "SHENZI_CACHE_DIR", shm_cache)),
            Step("PyInstaller onefile, TMPDIR on tmpfs", both_shm(
                "PyInstaller onefile, TMPDIR on tmpfs", [pyi], "TMPDIR", shm_pyi)),
        ]
    # `later start` follows `first start` in each round, so its cache is always in place.
    series = interleave(steps, runs, "onefile startup")
    remove(shm)
    ready = {s.name: series[s.name + ": ready"] for s in steps}
    done = {s.name: series[s.name + ": exit"] for s in steps}

    size = os.path.getsize(onefile)
    size_min = os.path.getsize(onefile_min)
    unpacked_min = run(["du", "-sb", "--apparent-size", onedir_min]).stdout.split()[0]
    files = {d: sum(len(f) + len([x for x in ds if os.path.islink(os.path.join(r, x))])
                    for r, ds, f in os.walk(d)) for d in (onedir, onedir_min)}
    pyi_size = os.path.getsize(pyi)
    with open(onefile, "rb") as f:
        f.seek(-72, 2)
        trailer = f.read()
    stub = int.from_bytes(trailer[24:32], "little")
    payload = int.from_bytes(trailer[32:40], "little")
    unpacked = run(["du", "-sb", "--apparent-size", onedir]).stdout.split()[0]

    first_r = ratio(ready["shenzi onefile, first start"], ready["PyInstaller onefile"])
    first_min_r = ratio(ready["shenzi onefile (minimal), first start"], ready["PyInstaller onefile"])
    later_r = ratio(ready["shenzi onefile, later start"], ready["shenzi onedir"])
    size_r = size / pyi_size
    commit = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()

    def met(ok):
        return "✅ yes" if ok else "❌ no"

    block = [
        "## 8. One file: shenzi onefile vs onedir vs PyInstaller `--onefile`", "",
        "Measured %s by `%s` at commit `%s`%s; %s. %d interleaved rounds; milliseconds, median (min–max). "
        "\"ready\" is the app's first line, printed before any import; \"exit\" includes importing numpy, PIL, "
        "lxml and cryptography and using each." % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            " ".join(["python3", "bench/onefile.py"] + sys.argv[1:]), commit,
            " (with local changes)" if dirty else "",
            ", ".join("%s: %s" % fact for fact in facts if fact[0] in ("CPUs (nproc)", "filesystem of the output folder")),
            runs), "",
        "| goal | measured | met |", "| --- | --- | --- |",
        "| first start ≤ 0.5× PyInstaller onefile's start (to \"ready\") | %.2f× | %s |" % (first_r, met(first_r <= 0.5)),
        "| later starts ≤ 1.05× the onedir dist's start (to \"ready\") | %.2f× | %s |" % (later_r, met(later_r <= 1.05)),
        "| size ≤ 1.0× PyInstaller onefile's | %.2f× | %s |" % (size_r, met(size_r <= 1.0)),
        "| (`minimal`: first start ≤ 0.5× PyInstaller onefile's) | %.2f× | %s |" % (
            first_min_r, met(first_min_r <= 0.5)),
        "| (`minimal`: size ≤ 1.0× PyInstaller onefile's) | %.2f× | %s |" % (size_min / pyi_size, met(size_min <= pyi_size)),
    ]
    if "PyInstaller onefile, TMPDIR on tmpfs" in ready:
        shm_r = ratio(ready["shenzi onefile, first start, cache on tmpfs"], ready["PyInstaller onefile, TMPDIR on tmpfs"])
        block.append("| (first start ≤ 0.5× PyInstaller's, both extracting to tmpfs) | %.2f× | %s |" % (
            shm_r, met(shm_r <= 0.5)))
    block += [
        "",
        "| runs as | to \"ready\" | to exit | ready ÷ shenzi onedir | ready ÷ PyInstaller onefile |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in steps:
        block.append("| %s | %s | %s | %.2f× | %.2f× |" % (
            s.name, summary(ready[s.name], "ms"), summary(done[s.name], "ms"),
            ratio(ready[s.name], ready["shenzi onedir"]), ratio(ready[s.name], ready["PyInstaller onefile"])))
    block += [
        "",
        "| file | MB | ÷ PyInstaller onefile |", "| --- | --- | --- |",
        "| shenzi onefile (`apply default --onefile`, zstd level 19) | %.1f | %.2f× |" % (size / MB, size_r),
        "| … of which the stub | %.2f | |" % (stub / MB),
        "| … of which the payload (the dist: %.1f MB unpacked, %d files and links) | %.1f | |" % (
            int(unpacked) / MB, files[onedir], payload / MB),
        "| shenzi onefile (`apply minimal --onefile`; the dist: %.1f MB unpacked, %d files and links) | %.1f | %.2f× |" % (
            int(unpacked_min) / MB, files[onedir_min], size_min / MB, size_min / pyi_size),
        "| PyInstaller `--onefile` | %.1f | 1.00× |" % (pyi_size / MB),
        "",
        "Builds (one each, not interleaved): `shenzi apply default --onefile` %.1f s (apply, verify, then "
        "compression: most of it); `shenzi apply minimal --onefile` %.1f s; `pyinstaller --onefile` %.1f s." % (
            onefile_build, onefile_min_build, pyi_build),
        "",
        "Commands: `%s`, with `SHENZI_CACHE_DIR` a folder of `%s` (removed before each first start); "
        "`%s`; `%s` (with `TMPDIR` emptied before each run)." % (
            " ".join(bench_run.rel(c) for c in env.apply_cmd("default", env.manifest, built) + ["--onefile"]),
            bench_run.rel(work), bench_run.rel(os.path.join(onedir, "bin", "app")), bench_run.rel(pyi)),
        "",
    ]
    write_block(out_path, block)
    print("\n".join(block))
    log("report written to %s" % bench_run.rel(out_path))


if __name__ == "__main__":
    main()
