"""Helpers shared by the benchmarks in bench/: running and timing commands, interleaved
measurement, statistics, tree sizes and machine facts.

Every figure the benchmarks report is a series of wall times taken *interleaved* (A B C,
A B C, ...) so that the noise of a shared machine hits every contender alike; a series is
summarised as median, min and max, and contenders are compared by the ratio of medians
taken within one run.
"""

import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `SHENZI_BENCH_CACHE` puts the prepared environment elsewhere (a worktree whose `.cache`
# is shared and read-only, say).
CACHE = os.environ.get("SHENZI_BENCH_CACHE") or os.path.join(ROOT, ".cache", "bench")
TIMEOUT = 3600  # seconds; a hung command fails the benchmark instead of stalling it


def log(message):
    """Progress goes to stderr, so stdout stays the report."""
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


class CommandFailed(Exception):
    def __init__(self, cmd, code, stderr):
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__("%s exited with %s:\n%s" % (" ".join(map(str, cmd)), code, tail))
        self.cmd, self.code, self.stderr = cmd, code, stderr


def run(cmd, cwd=ROOT, env=None, check=True, stdout=subprocess.PIPE):
    """Runs a command to completion, capturing its output; raises CommandFailed on a non-zero exit."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE,
        text=True, timeout=TIMEOUT,
    )
    if check and proc.returncode != 0:
        raise CommandFailed(cmd, proc.returncode, proc.stderr or "")
    return proc


def timed(cmd, cwd=ROOT, env=None):
    """Wall time of one run of a command, in seconds (its output discarded)."""
    start = time.perf_counter()
    run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def timed_v(cmd, cwd=ROOT, env=None):
    """Wall time (seconds) and peak RSS (bytes) of one run, the latter from `/usr/bin/time -v`."""
    report = os.path.join(CACHE, "time-v.txt")
    start = time.perf_counter()
    run(["/usr/bin/time", "-v", "-o", report] + list(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with open(report) as f:
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    return wall, int(match.group(1)) * 1024


def first_output(cmd, cwd=ROOT, expect=b"ready"):
    """Times a program to its first line of output and to its exit; checks the first line."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    first = time.perf_counter() - start
    rest, err = proc.communicate(timeout=TIMEOUT)
    total = time.perf_counter() - start
    if proc.returncode != 0 or line.strip() != expect:
        raise CommandFailed(cmd, proc.returncode, (line + rest + err).decode(errors="replace"))
    return first, total


def remove(path):
    """Removes a file or folder if it exists (never follows a symlink out of it)."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        subprocess.run(["rm", "-rf", "--", path], check=True)  # several times faster than shutil.rmtree


class Step:
    """One contender in an interleaved measurement.

    `measure()` returns seconds, or a dict {series name: seconds} when one run yields
    several figures (time to first output and to exit, say). `prepare()` runs untimed
    before each measurement (removing the previous output, for a cold run).
    """

    def __init__(self, name, measure, prepare=None):
        self.name, self.measure, self.prepare = name, measure, prepare


def interleave(steps, rounds, what):
    """Runs every step once per round, in order, `rounds` times; returns {series: [seconds]}."""
    series = {}
    for round_no in range(1, rounds + 1):
        for step in steps:
            if step.prepare:
                step.prepare()
            value = step.measure()
            values = value if isinstance(value, dict) else {step.name: value}
            for name, seconds in values.items():
                series.setdefault(name, []).append(seconds)
        log("%s: round %d/%d done" % (what, round_no, rounds))
    return series


def med(values):
    return statistics.median(values)


def summary(values, unit="s"):
    """'median (min–max)' in seconds or milliseconds."""
    scale, fmt = (1000.0, "%.0f") if unit == "ms" else (1.0, "%.2f")
    if unit == "ms" and med(values) < 0.1:
        fmt = "%.1f"
    if unit == "s" and med(values) < 0.1:
        fmt = "%.3f"
    return "%s (%s–%s)" % tuple(fmt % (v * scale) for v in (med(values), min(values), max(values)))


def ratio(a, b):
    """Ratio of the medians of two series."""
    return med(a) / med(b)


def tree_stats(path):
    """(regular files, symlinks, apparent bytes of the regular files) below `path`."""
    files = links = size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            st = os.lstat(os.path.join(dirpath, name))
            if os.path.islink(os.path.join(dirpath, name)):
                links += 1
            else:
                files += 1
                size += st.st_size
    return files, links, size


def pyenv_python(minor):
    """The newest pyenv CPython 3.<minor>."""
    root = run(["pyenv", "root"]).stdout.strip()
    versions = [v for v in os.listdir(os.path.join(root, "versions")) if re.fullmatch(r"3\.%d\.\d+" % minor, v)]
    if not versions:
        sys.exit("bench: pyenv has no CPython 3.%d (pyenv install 3.%d)" % (minor, minor))
    newest = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    return os.path.join(root, "versions", newest, "bin", "python3")


def first_line(cmd):
    try:
        out = run(cmd, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "not found"


def machine_facts(out_dir):
    """What a reader needs to compare these figures with their own."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    fs = first_line(["findmnt", "-n", "-o", "FSTYPE", "-T", out_dir])
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU model", cpu),
        ("memory", "%.1f GiB" % (mem_kb / 1024 / 1024)),
        ("kernel", platform.release()),
        ("filesystem of the output folder", "%s (`%s`)" % (fs, os.path.relpath(out_dir, ROOT))),
        ("cp", first_line(["cp", "--version"])),
        ("patchelf", first_line(["patchelf", "--version"])),
        ("gcc", first_line(["gcc", "--version"])),
    ]
