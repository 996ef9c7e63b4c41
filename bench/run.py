#!/usr/bin/env python3
"""shenzi's benchmark: one command that prepares its environment, measures, and writes
the results table to docs/performance.md.

    python3 bench/run.py            # the full run (10–30 min on 2 noisy cores)
    python3 bench/run.py --quick    # a few minutes, small sizes; writes .cache/bench/performance-quick.md

Environment (prepared once, reused while its inputs are unchanged; all under the
git-ignored .cache/bench/):
  venv-app          pyenv's CPython 3.11 + bench/requirements-app.txt (numpy, pillow, lxml,
                    cryptography), the venv shenzi traces and packages
  venv-pyinstaller  the same packages + PyInstaller (bench/requirements-pyinstaller.txt)
  app.json          the manifest: `shenzi trace` of bench/app/app.py in venv-app
  scale/<N>/        generated venvs whose site dir holds N files (bench/scale.py)

Sections (all timings interleaved, A B C A B C ..., median (min–max); ratios are ratios
of medians from the same run):
  1-2  cold `shenzi apply` (default and minimal layouts) vs `cp -a` of the dist it wrote
       (the copy floor) vs `pyinstaller --onedir` of the same app
  3    re-apply onto an existing dist vs cold apply: unchanged, and after one pure module of
       the app's venv was edited (a comment line added or removed each round, the file
       restored after the section)
  4    startup to first output ("ready") and to exit: venv python vs shenzi dists vs
       PyInstaller onedir (and a check that every one prints the same output)
  5    trace overhead: `shenzi trace -- app` vs the app alone
  6    dist size and file count: each shipped layout vs PyInstaller onedir
  7    scale: apply wall time and peak RSS (`/usr/bin/time -v`) at growing site dirs

Rows that need `shenzi apply` say so when the binary built from this checkout has no
`apply` command. Not part of the test suite: timings are not assertions.
"""

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402
import trace_overhead  # noqa: E402
from benchlib import (  # noqa: E402
    CACHE, ROOT, CommandFailed, Step, first_output, interleave, log, machine_facts, med, pyenv_python,
    ratio, remove, run, summary, timed, timed_v, tree_stats,
)

BENCH = os.path.join(ROOT, "bench")
APP = os.path.join(BENCH, "app", "app.py")
LAYOUTS = ("default", "flat", "farm-per-unit", "minimal")
TIMED_LAYOUTS = ("default", "minimal")
NOT_AVAILABLE = "not available in this build (no `shenzi apply`)"
BEGIN, END = "<!-- bench:begin (written by bench/run.py) -->", "<!-- bench:end -->"
MB = 1e6


def rel(path):
    """A path as the reader of the report should see it: relative to the checkout."""
    path = str(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT) else path


def show(cmd):
    return "`%s`" % " ".join(shlex.quote(rel(c)) for c in cmd)


def goal(value, limit):
    return "%.2f× %s" % (value, "✅" if value <= limit else "❌ missed")


class Env:
    """The prepared environment: binaries, venvs and the traced manifest."""

    def __init__(self, shenzi):
        self.python = pyenv_python(11)
        self.shenzi = shenzi or os.path.join(ROOT, "target", "release", "shenzi")
        self.app_venv = os.path.join(CACHE, "venv-app")
        self.app_python = os.path.join(self.app_venv, "bin", "python")
        self.pyi_venv = os.path.join(CACHE, "venv-pyinstaller")
        self.manifest = os.path.join(CACHE, "app.json")
        self.pyi_env = dict(os.environ, PYINSTALLER_CONFIG_DIR=os.path.join(CACHE, "pyinstaller-config"))
        self.has_apply = False
        self.apply_help = ""

    def apply_cmd(self, layout, manifest, out, force=False):
        return [self.shenzi, "apply", layout, manifest, "-o", out] + (["--force"] if force else [])

    def pyinstaller_cmd(self, dist, work):
        return [
            os.path.join(self.pyi_venv, "bin", "pyinstaller"), "--onedir", "--noconfirm", "--log-level", "WARN",
            "--name", "app", "--distpath", dist, "--workpath", work, "--specpath", os.path.join(CACHE, "pyi-spec"), APP,
        ]


def make_venv(env, path, requirements):
    """A venv from pyenv's CPython 3.11 with the pinned requirements; skipped when up to date."""
    with open(os.path.join(BENCH, "requirements-app.txt")) as f:
        wanted = env.python + "\n" + f.read()
    with open(os.path.join(BENCH, requirements)) as f:
        wanted += f.read()
    marker = os.path.join(path, ".bench-complete")
    if os.path.exists(marker) and open(marker).read() == wanted:
        return
    log("preparing %s (pip install -r bench/%s)" % (rel(path), requirements))
    remove(path)
    run([env.python, "-m", "venv", path])
    run([os.path.join(path, "bin", "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--cache-dir", os.path.join(CACHE, "pip"), "-r", os.path.join(BENCH, requirements)])
    with open(marker, "w") as f:
        f.write(wanted)


def system_tools():
    """Debian packages the benchmark needs; installed with apt when missing (as scripts/setup does)."""
    missing = [pkg for tool, pkg in (("/usr/bin/time", "time"), ("gcc", "gcc"), ("patchelf", "patchelf"))
               if not (os.path.exists(tool) if tool.startswith("/") else shutil.which(tool))]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit("bench: please install: %s (apt-get install %s)" % (" ".join(missing), " ".join(missing)))
    log("apt-get install %s" % " ".join(missing))
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq"] + missing, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def prepare(shenzi):
    env = Env(shenzi)
    os.makedirs(CACHE, exist_ok=True)
    system_tools()
    if not shenzi:
        log("building shenzi (cargo build --release)")
        run(["cargo", "build", "--release", "--quiet"])
    make_venv(env, env.app_venv, "requirements-app.txt")
    make_venv(env, env.pyi_venv, "requirements-pyinstaller.txt")
    log("tracing the app")
    run([env.shenzi, "trace", "-o", env.manifest, "--", env.app_python, APP])
    probe = run([env.shenzi, "apply", "--help"], check=False)
    env.has_apply = probe.returncode == 0
    env.apply_help = probe.stdout
    log("shenzi apply: %s" % ("found" if env.has_apply else "NOT in this build"))
    return env


class Bench:
    def __init__(self, env, args):
        self.env, self.args = env, args
        self.md = []  # the report, markdown lines
        self.results = {}  # raw series, for .cache/bench/results.json
        self.goals = []  # (goal, measured, met)
        self.runs_dir = os.path.join(CACHE, "runs")
        self.ref_dir = os.path.join(CACHE, "dist-ref")
        self.dists = {}  # layout -> reference dist folder (applied once, untimed)
        self.apply_errors = {}  # layout -> first lines of the error
        self.pyi_ref = os.path.join(CACHE, "pyi-ref")

    def out(self, *lines):
        self.md.extend(lines)

    def keep(self, section, series):
        self.results[section] = series

    # -- references: one untimed apply per layout, one PyInstaller build ----------------

    def references(self):
        os.makedirs(self.runs_dir, exist_ok=True)
        os.makedirs(self.ref_dir, exist_ok=True)
        if self.env.has_apply:
            for layout in LAYOUTS:
                dist = os.path.join(self.ref_dir, layout)
                remove(dist)
                try:
                    run(self.env.apply_cmd(layout, self.env.manifest, dist))
                    self.dists[layout] = dist
                except CommandFailed as err:
                    self.apply_errors[layout] = err.stderr.strip().splitlines()[-3:]
                    log("apply %s failed: %s" % (layout, err))
        # Rebuilt every run, like the shenzi dists: a dist that has run holds __pycache__ it
        # did not ship with.
        log("PyInstaller reference build")
        remove(self.pyi_ref), remove(os.path.join(CACHE, "pyi-ref-work"))
        run(self.env.pyinstaller_cmd(self.pyi_ref, os.path.join(CACHE, "pyi-ref-work")), env=self.env.pyi_env)
        # Sizes now, while the dists are as written: running them (section 4) adds __pycache__.
        self.pristine = {layout: tree_stats(dist) for layout, dist in self.dists.items()}
        self.pristine["pyinstaller"] = tree_stats(os.path.join(self.pyi_ref, "app"))

    def layout_cell(self, layout):
        if not self.env.has_apply:
            return NOT_AVAILABLE
        return "apply failed: %s" % " / ".join(self.apply_errors.get(layout, ["?"]))

    # -- 1-2: cold apply vs cp -a floor vs PyInstaller ---------------------------------

    def builds(self):
        env, runs = self.env, self.args.runs
        steps = []
        for layout in TIMED_LAYOUTS:
            if layout not in self.dists:
                continue
            out, floor = os.path.join(self.runs_dir, "apply-" + layout), os.path.join(self.runs_dir, "cp-" + layout)
            steps.append(Step("apply " + layout, lambda out=out, layout=layout: timed(
                env.apply_cmd(layout, env.manifest, out)), lambda out=out: remove(out)))
            steps.append(Step("cp -a " + layout, lambda floor=floor, layout=layout: timed(
                ["cp", "-a", self.dists[layout], floor]), lambda floor=floor: remove(floor)))
        pyi_dist, pyi_work = os.path.join(self.runs_dir, "pyi-dist"), os.path.join(self.runs_dir, "pyi-work")
        steps.append(Step("pyinstaller", lambda: timed(env.pyinstaller_cmd(pyi_dist, pyi_work), env=env.pyi_env),
                          lambda: (remove(pyi_dist), remove(pyi_work))))
        series = interleave(steps, runs, "1-2 build")
        self.keep("builds", series)
        pyi = series["pyinstaller"]
        self.out(
            "## 1–2. Build: cold apply vs the `cp -a` floor vs PyInstaller", "",
            "%d interleaved rounds; seconds, median (min–max). Each round: apply default, cp default, "
            "apply minimal, cp minimal, PyInstaller." % runs, "",
            "| layout | `shenzi apply` (cold) | `cp -a` floor | `pyinstaller --onedir` | apply ÷ PyInstaller (goal ≤ 0.25×) "
            "| apply ÷ floor (goal ≤ 1.0×) |",
            "| --- | --- | --- | --- | --- | --- |",
        )
        for layout in TIMED_LAYOUTS:
            if "apply " + layout in series:
                a, c = series["apply " + layout], series["cp -a " + layout]
                vs_pyi, vs_floor = ratio(a, pyi), ratio(a, c)
                self.goals.append(("apply %s ≤ 0.25× PyInstaller build" % layout, "%.2f×" % vs_pyi, vs_pyi <= 0.25))
                self.goals.append(("apply %s ≤ 1.0× `cp -a` floor" % layout, "%.2f×" % vs_floor, vs_floor <= 1.0))
                self.out("| %s | %s | %s | %s | %s | %s |" % (
                    layout, summary(a), summary(c), summary(pyi), goal(vs_pyi, 0.25), goal(vs_floor, 1.0)))
            else:
                self.goals.append(("apply %s ≤ 0.25× PyInstaller build, ≤ 1.0× floor" % layout,
                                   self.layout_cell(layout), None))
                self.out("| %s | %s | — | %s | — | — |" % (layout, self.layout_cell(layout), summary(pyi)))
        self.out(
            "", "Commands:", "",
            "- apply: %s, the output folder removed before each run (cold)" % show(
                env.apply_cmd("LAYOUT", env.manifest, os.path.join(self.runs_dir, "apply-LAYOUT"))),
            "- floor: %s — `cp -a` of the dist apply wrote, to a fresh folder: exactly the files, symlinks "
            "and bytes apply writes, with the cheapest tool that preserves them (the source is warm in the "
            "page cache, as apply's sources are)" % show(
                ["cp", "-a", os.path.join(self.ref_dir, "LAYOUT"), os.path.join(self.runs_dir, "cp-LAYOUT")]),
            "- PyInstaller: %s, with fresh `--distpath` and `--workpath` each run and its user cache "
            "(`PYINSTALLER_CONFIG_DIR=%s`) kept, as a developer's repeated builds keep it" % (
                show(env.pyinstaller_cmd(pyi_dist, pyi_work)), rel(env.pyi_env["PYINSTALLER_CONFIG_DIR"])),
            "",
        )

    # -- 3: re-apply of an unchanged manifest -----------------------------------------

    def reapply(self):
        env = self.env
        self.out("## 3. Re-apply vs cold apply: unchanged, and one module edited", "")
        if "default" not in self.dists:
            self.out(self.layout_cell("default"), "")
            self.goals.append(("re-apply unchanged ≤ 0.1× cold", self.layout_cell("default"), None))
            return
        target, cold = os.path.join(self.runs_dir, "reapply-default"), os.path.join(self.runs_dir, "cold-default")
        touched_target = os.path.join(self.runs_dir, "reapply-touched")
        remove(target), remove(touched_target)
        run(env.apply_cmd("default", env.manifest, target))
        run(env.apply_cmd("default", env.manifest, touched_target))
        reapply_cmd = env.apply_cmd("default", env.manifest, target, force=True)
        touched_cmd = env.apply_cmd("default", env.manifest, touched_target, force=True)
        # It must succeed before it is timed; its summary says it found nothing to do.
        unchanged = "is up to date" in run(reapply_cmd).stderr
        # A pure module the dist ships: numpy's version module, in the app's venv.
        site = run([env.app_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
        module = os.path.join(site, "numpy", "version.py")
        with open(module, "rb") as f:
            original = f.read()
        rounds = [0]

        def edit():
            # A change every round: a comment line added, then removed.
            rounds[0] += 1
            with open(module, "wb") as f:
                f.write(original + (b"# bench edit\n" if rounds[0] % 2 else b""))

        try:
            edit()
            said = run(touched_cmd + ["--explain-rebuild"]).stderr
            redone = re.findall(r"shenzi: redone `([^`]+)`", said)
            series = interleave([
                Step("cold", lambda: timed(env.apply_cmd("default", env.manifest, cold)), lambda: remove(cold)),
                # The edit changes a source of this dist too: an untimed re-apply first
                # brings it up to date, so that the timed one finds nothing changed.
                Step("re-apply", lambda: timed(reapply_cmd), lambda: run(reapply_cmd)),
                Step("re-apply, one module edited", lambda: timed(touched_cmd), edit),
            ], self.args.runs, "3 re-apply")
        finally:
            with open(module, "wb") as f:
                f.write(original)
        self.keep("reapply", series)
        r = ratio(series["re-apply"], series["cold"])
        t = ratio(series["re-apply, one module edited"], series["cold"])
        self.goals.append(("re-apply unchanged ≤ 0.1× cold", "%.2f×" % r, r <= 0.1))
        self.goals.append(("re-apply, one module edited ≤ 0.15× cold", "%.2f×" % t, t <= 0.15))
        self.out(
            "%d interleaved rounds; seconds, median (min–max); default layout." % self.args.runs, "",
            "| cold apply | re-apply, unchanged | ÷ cold (goal ≤ 0.1×) | re-apply, one module edited "
            "| ÷ cold (goal ≤ 0.15×) |", "| --- | --- | --- | --- | --- |",
            "| %s | %s | %s | %s | %s |" % (summary(series["cold"]), summary(series["re-apply"]), goal(r, 0.1),
                                            summary(series["re-apply, one module edited"]), goal(t, 0.15)), "",
            "Unchanged, re-apply %s. With `%s` edited, it redid %s. Commands: %s; the edited one the same "
            "onto `%s`." % (
                "found nothing to do and wrote nothing" if unchanged else "did not find the dist up to date",
                rel(module), ", ".join("`%s`" % p for p in redone) or "nothing",
                show(reapply_cmd), rel(touched_target)),
            "",
        )

    # -- 4: startup -----------------------------------------------------------------

    def startup(self):
        env = self.env
        contenders = [("venv python", [env.app_python, APP])]
        contenders += [("shenzi %s" % layout, [os.path.join(self.dists[layout], "bin", "app")])
                       for layout in LAYOUTS if layout in self.dists]
        contenders.append(("PyInstaller onedir", [os.path.join(self.pyi_ref, "app", "app")]))
        expected = run(contenders[0][1]).stdout
        same = {}
        for name, cmd in contenders:
            try:
                same[name] = "yes" if run(cmd).stdout == expected else "**no: output differs**"
            except CommandFailed as err:
                same[name] = "**no: %s**" % " ".join(err.stderr.strip().splitlines()[-1:])
        working = [(n, c) for n, c in contenders if same[n] == "yes"]
        for name, cmd in working:
            first_output(cmd)  # warm the page cache
        series = interleave([Step(name, lambda cmd=cmd, name=name: dict(
            zip((name + ": ready", name + ": exit"), first_output(cmd)))) for name, cmd in working],
            self.args.fast_runs, "4 startup")
        self.keep("startup", series)
        base_ready, base_exit = series["venv python: ready"], series["venv python: exit"]
        self.out(
            "## 4. Startup: to first output and to exit", "",
            "%d interleaved rounds; milliseconds, median (min–max). \"ready\" is the app's first line, printed "
            "before any import (interpreter and launcher start-up); \"exit\" includes importing numpy, PIL, lxml "
            "and cryptography and using each." % self.args.fast_runs, "",
            "| runs as | to \"ready\" | ready ÷ venv (goal ≤ 1.0×) | to exit | exit ÷ venv | same output as venv |",
            "| --- | --- | --- | --- | --- | --- |",
        )
        for name, cmd in contenders:
            if name not in dict(working):
                self.out("| %s | — | — | — | — | %s |" % (name, same[name]))
                if name.startswith("shenzi"):
                    self.goals.append(("startup, %s ≤ 1.0× venv python" % name, "the dist does not run", False))
                continue
            ready, done = series[name + ": ready"], series[name + ": exit"]
            r = ratio(ready, base_ready)
            if name.startswith("shenzi"):
                self.goals.append(("startup, %s ≤ 1.0× venv python" % name, "%.2f×" % r, r <= 1.0))
            self.out("| %s | %s | %s | %s | %.2f× | %s |" % (
                name, summary(ready, "ms"), goal(r, 1.0) if name != "venv python" else "1.00×",
                summary(done, "ms"), ratio(done, base_exit), same[name]))
        if not self.dists:
            self.out("| shenzi dists | %s | | | | |" % self.layout_cell("default"))
            self.goals.append(("startup ≤ 1.0× venv python", self.layout_cell("default"), None))
        self.out("", "Commands: %s; %s; `%s`." % (
            show(contenders[0][1]), show([os.path.join(self.ref_dir, "LAYOUT", "bin", "app")]),
            rel(contenders[-1][1][0])), "")

    # -- 5: trace overhead ------------------------------------------------------------

    def trace(self):
        env = self.env
        apps = [
            ("bench app (numpy, PIL, lxml, cryptography; 1 process)", [env.app_python, APP], ROOT),
            ("examples/stdlib_app (4 processes)", [env.python, "app.py"], os.path.join(ROOT, "examples", "stdlib_app")),
        ]
        self.out(
            "## 5. Trace overhead", "",
            "%d interleaved rounds; milliseconds, median (min–max); the whole run, to exit." % self.args.fast_runs, "",
            "| app | untraced | `shenzi trace`, audit only | `shenzi trace` | audit only ÷ untraced | traced ÷ untraced |",
            "| --- | --- | --- | --- | --- | --- |",
        )
        kept = {}
        for name, app, cwd in apps:
            plain, audit, traced = trace_overhead.measure(name, app, cwd, env.shenzi, self.args.fast_runs)
            kept[name] = {"untraced": plain, "audit_only": audit, "traced": traced}
            self.out(trace_overhead.row(name, plain, audit, traced))
        self.keep("trace", kept)
        self.out("", "Command: %s (also `python3 bench/trace_overhead.py`)." % show(
            [env.shenzi, "trace", "-o", "M.json", "--", env.app_python, APP]), "")

    # -- 6: sizes ---------------------------------------------------------------------

    def sizes(self):
        pyi_files, pyi_links, pyi_bytes = self.pristine["pyinstaller"]
        site = run([self.env.app_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
        rows = [("source venv site-packages (for scale)", tree_stats(site))]
        rows += [("shenzi " + layout, self.pristine[layout]) for layout in LAYOUTS if layout in self.dists]
        rows.append(("PyInstaller onedir", (pyi_files, pyi_links, pyi_bytes)))
        self.results["sizes"] = {name: stats for name, stats in rows}
        self.out(
            "## 6. Dist size and file count", "",
            "Regular files, symlinks, and the apparent size of the regular files, counted as written "
            "(before any run adds `__pycache__`).", "",
            "| dist | files | symlinks | MB | files ÷ PyInstaller | bytes ÷ PyInstaller |",
            "| --- | --- | --- | --- | --- | --- |",
        )
        for name, (files, links, size) in rows:
            self.out("| %s | %d | %d | %.1f | %.2f× | %.2f× |" % (
                name, files, links, size / MB, files / pyi_files, size / pyi_bytes))
        if not self.dists:
            self.out("| shenzi (each layout) | %s | | | | |" % NOT_AVAILABLE)
        self.out("")

    # -- 7: scale ---------------------------------------------------------------------

    def scale(self):
        env, sizes = self.env, self.args.sizes
        apps = {}
        for n in sizes:
            out = os.path.join(CACHE, "scale", "site-%d" % n)
            py, app = scale.generate(env.python, n, out)
            manifest = os.path.join(out, "shenzi.json")
            run([env.shenzi, "trace", "-o", manifest, "--", py, app])
            apps[n] = (py, app, manifest, out)
        steps, dist_files = [], {}
        for n, (py, app, manifest, out) in apps.items():
            tmp_manifest = os.path.join(out, "trace-run.json")
            steps.append(Step("trace %d" % n, lambda py=py, app=app, m=tmp_manifest, n=n: dict(zip(
                ("trace %d" % n, "trace rss %d" % n), timed_v([env.shenzi, "trace", "-o", m, "--", py, app])))))
            if not env.has_apply:
                continue
            ref, dist, floor = (os.path.join(out, d) for d in ("dist-ref", "dist-run", "cp-run"))
            remove(ref)
            try:
                run(env.apply_cmd("default", manifest, ref))
            except CommandFailed as err:
                self.apply_errors["scale %d" % n] = err.stderr.strip().splitlines()[-3:]
                log("scale apply %d failed: %s" % (n, err))
                continue
            dist_files[n] = sum(tree_stats(ref)[:2])
            steps.append(Step("apply %d" % n, lambda m=manifest, dist=dist, n=n: dict(zip(
                ("apply %d" % n, "apply rss %d" % n), timed_v(env.apply_cmd("default", m, dist)))),
                lambda dist=dist: remove(dist)))
            steps.append(Step("cp %d" % n, lambda ref=ref, floor=floor: timed(["cp", "-a", ref, floor]),
                              lambda floor=floor: remove(floor)))
        series = interleave(steps, self.args.scale_runs, "7 scale")
        self.keep("scale", series)
        self.out(
            "## 7. Scale: generated site dirs", "",
            "%d interleaved rounds per size; default layout; seconds, median (min–max); peak RSS is "
            "`/usr/bin/time -v`'s maximum resident set size (the largest single process of the tree), median." % (
                self.args.scale_runs), "",
            "| site-dir files | dist files + symlinks | apply (cold) | apply per 1k dist files | apply peak RSS "
            "| `cp -a` floor | apply ÷ floor | trace | trace peak RSS |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        )
        for n in sizes:
            tr, trss = series["trace %d" % n], med(series["trace rss %d" % n]) / MB
            if "apply %d" % n in series:
                a, rss, c = series["apply %d" % n], med(series["apply rss %d" % n]) / MB, series["cp %d" % n]
                self.out("| %d | %d | %s | %.3f s | %.0f MB | %s | %.2f× | %s | %.0f MB |" % (
                    n, dist_files[n], summary(a), med(a) / dist_files[n] * 1000, rss, summary(c), ratio(a, c),
                    summary(tr), trss))
            else:
                cell = NOT_AVAILABLE if not env.has_apply else "apply failed"
                self.out("| %d | — | %s | — | — | — | — | %s | %.0f MB |" % (n, cell, summary(tr), trss))
        self.out("")
        largest = max(sizes)
        if "apply %d" % largest in series:
            rss = med(series["apply rss %d" % largest]) / MB
            self.goals.append(("apply peak RSS ≤ 300 MB at %d files" % largest, "%.0f MB" % rss, rss <= 300))
            for label, stat in (("medians", med), ("minimums", min)):
                self.out(self.linearity("apply (%s)" % label, {n: (n, stat(series["apply %d" % n])) for n in sizes}), "")
        else:
            self.goals.append(("apply peak RSS ≤ 300 MB at %d files" % largest, NOT_AVAILABLE, None))
        self.out(self.linearity("trace", {n: (n, med(series["trace %d" % n])) for n in sizes}), "")
        self.out("Generator: `bench/scale.py` (pure-Python distributions of 100 files plus gcc-built extension "
                 "modules, a needed library and a ctypes-loaded one); the manifest is a real `shenzi trace` of "
                 "an app importing every generated package. Commands: %s; %s." % (
                     show(["/usr/bin/time", "-v", env.shenzi, "apply", "default", "scale/site-N/shenzi.json", "-o", "DIR"]),
                     show(["/usr/bin/time", "-v", env.shenzi, "trace", "-o", "M.json", "--", "scale/site-N/venv/bin/python",
                           "scale/site-N/app/app.py"])), "")

    @staticmethod
    def linearity(what, points):
        """Is time linear in files? Compares the marginal cost per file of each step up in size."""
        ns = sorted(points)
        slopes = []
        for a, b in zip(ns, ns[1:]):
            (fa, ta), (fb, tb) = points[a], points[b]
            slopes.append((tb - ta) / (fb - fa) * 1e6 if fb != fa else float("nan"))
        growth = slopes[-1] / slopes[0] if len(slopes) > 1 and slopes[0] > 0 else float("nan")
        verdict = ("linear" if 0.67 <= growth <= 1.5 else "super-linear" if growth > 1.5 else
                   "sub-linear (fixed costs dominate the small sizes)" if growth == growth else "undetermined")
        return ("%s time against site-dir files: marginal cost %s ms per 1k files between successive sizes; "
                "last ÷ first = %.2f → **%s**." % (
            what, ", ".join("%.0f" % s for s in slopes), growth, verdict))

    # -- the report -------------------------------------------------------------------

    def header(self, facts):
        env = self.env
        commit = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
        versions = run([env.app_python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"]).stdout
        pyi_version = run([os.path.join(env.pyi_venv, "bin", "pyinstaller"), "--version"]).stdout.strip()
        lines = [
            "Measured %s by `%s` at commit `%s`%s." % (
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                " ".join(["python3", "bench/run.py"] + sys.argv[1:]), commit, " (with local changes)" if dirty else ""),
            "",
            "| machine / tool | |", "| --- | --- |",
        ]
        lines += ["| %s | %s |" % fact for fact in facts]
        lines += [
            "| shenzi | %s, `shenzi apply` %s |" % (run([env.shenzi, "--version"]).stdout.strip(),
                                                   "present" if env.has_apply else "**absent**"),
            "| Python | %s (pyenv) |" % run([env.python, "--version"]).stdout.strip(),
            "| PyInstaller | %s |" % pyi_version,
            "| app packages | %s |" % ", ".join(
                l for l in versions.split() if l.split("==")[0].lower() in ("numpy", "pillow", "lxml", "cryptography")),
            "",
        ]
        return lines

    def goals_table(self):
        lines = ["## Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
        for name, value, met in self.goals:
            lines.append("| %s | %s | %s |" % (name, value, "—" if met is None else "✅ yes" if met else "❌ no"))
        return lines + [""]


def write_report(path, block):
    """Replaces the generated block of `path`, keeping the hand-written text around it."""
    text = open(path).read() if os.path.exists(path) else "# Performance\n\n%s\n%s\n" % (BEGIN, END)
    if BEGIN not in text or END not in text:
        text += "\n%s\n%s\n" % (BEGIN, END)
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(block).rstrip() + "\n" + END + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="rounds of the build and re-apply sections (default 5; quick 2)")
    parser.add_argument("--fast-runs", type=int, help="rounds of the startup and trace sections (default 15; quick 5)")
    parser.add_argument("--scale-runs", type=int, help="rounds of the scale section (default 3; quick 2)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="site-dir sizes of the scale section (default 5000,20000,50000; quick 1000,2500,5000)")
    parser.add_argument("--quick", action="store_true", help="few rounds and small sizes: for development")
    parser.add_argument("--sections", default="1,3,4,5,6,7", help="which sections to run (1 means 1-2)")
    parser.add_argument("--shenzi", help="a shenzi binary to measure (default: build this checkout's)")
    parser.add_argument("--out", help="report file (default docs/performance.md; quick: .cache/bench/performance-quick.md)")
    args = parser.parse_args()
    quick = args.quick
    args.runs = args.runs or (2 if quick else 5)
    args.fast_runs = args.fast_runs or (5 if quick else 15)
    args.scale_runs = args.scale_runs or (2 if quick else 3)
    args.sizes = args.sizes or ([1000, 2500, 5000] if quick else [5000, 20000, 50000])
    args.out = args.out or (os.path.join(CACHE, "performance-quick.md") if quick else
                            os.path.join(ROOT, "docs", "performance.md"))
    sections = set(args.sections.split(","))

    env = prepare(args.shenzi)
    bench = Bench(env, args)
    facts = machine_facts(CACHE)
    bench.references()
    for key, method in (("1", bench.builds), ("3", bench.reapply), ("4", bench.startup), ("5", bench.trace),
                        ("6", bench.sizes), ("7", bench.scale)):
        if key in sections:
            method()
    block = bench.header(facts) + bench.goals_table() + bench.md
    write_report(args.out, block)
    with open(os.path.join(CACHE, "results.json"), "w") as f:
        json.dump(bench.results, f, indent=1)
    print("\n".join(block))
    log("report written to %s (raw series in %s)" % (rel(args.out), rel(os.path.join(CACHE, "results.json"))))


if __name__ == "__main__":
    main()
