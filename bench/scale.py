"""Generated apps for the scale benchmark: a venv whose site dir holds exactly N files.

The site dir is made of
  - pure-Python distributions `gen_pkg_NNNN` of up to 100 files each: a package with
    modules and a subpackage of modules, and its `*.dist-info` (METADATA, RECORD,
    INSTALLER), as a wheel would install it;
  - one native distribution `gen_native`: four extension modules built with gcc against
    CPython's headers, all needing `gen_native.libs/libgen_core.so.1` (a shared library
    found through the extensions' `$ORIGIN` RUNPATH, as auditwheel arranges it), and a
    library `libgen_rt.so` that the package loads at run time with ctypes.

The app imports every generated package (its `__init__`, one module and the
subpackage) and the native package, and calls into each native library. Its manifest is
made by really tracing it with `shenzi trace`, so `select imported` selects every
generated distribution and the apply writes the whole site dir.

    python3 bench/scale.py N OUT_DIR   # generate one, for a look at it
"""

import os
import sys

from benchlib import CACHE, log, remove, run

FILES_PER_DIST = 100
DIST_INFO = ("METADATA", "RECORD", "INSTALLER")
NATIVE_FILES = 1 + 4 + 1 + 1 + len(DIST_INFO)  # __init__, 4 extensions, 2 libraries, dist-info

CORE_C = """
int gen_core_value(int x) { return 3 * x + 1; }
"""

RT_C = """
int gen_rt_value(int x) { return x * x; }
"""

EXT_C = """
#include <Python.h>
extern int gen_core_value(int);
static PyObject *value(PyObject *self, PyObject *arg) {
    long x = PyLong_AsLong(arg);
    if (x == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromLong(gen_core_value((int)x) + %(index)d);
}
static PyMethodDef methods[] = {{"value", value, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext%(index)d", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext%(index)d(void) { return PyModule_Create(&module); }
"""

NATIVE_INIT = """import ctypes
import os

from . import _ext0, _ext1, _ext2, _ext3

_rt = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libgen_rt.so"))


def total(x):
    return sum(m.value(x) for m in (_ext0, _ext1, _ext2, _ext3)) + _rt.gen_rt_value(x)
"""

APP = """import importlib

print("ready", flush=True)

import gen_native

PACKAGES = %(packages)r

loaded = 0
for name in PACKAGES:
    for module in (name, name + ".m00", name + ".sub"):
        importlib.import_module(module)
        loaded += 1
print("modules", loaded, "native", gen_native.total(5))
"""


def module_source(dist, path, index):
    """A small module of the size and shape of ordinary library code (about 1 KB)."""
    return (
        '"""%(dist)s: %(path)s, generated for the shenzi scale benchmark."""\n\n'
        "CONSTANT_%(i)d = %(i)d\n\n\n"
        "class Thing%(i)d:\n"
        '    """A class with a method or two."""\n\n'
        "    def __init__(self, value=CONSTANT_%(i)d):\n"
        "        self.value = value\n\n"
        "    def double(self):\n"
        "        return Thing%(i)d(self.value * 2)\n\n"
        "    def __repr__(self):\n"
        '        return "Thing%(i)d(%%r)" %% (self.value,)\n\n\n'
        "def helper_%(i)d(items):\n"
        '    """Sums what it is given, skipping None."""\n'
        "    return sum(x for x in items if x is not None) + CONSTANT_%(i)d\n"
    ) % {"dist": dist, "path": path, "i": index}


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def pure_dist(site, name, count):
    """Writes one pure-Python distribution of exactly `count` files (count >= 6)."""
    files = []
    py_files = count - len(DIST_INFO)
    half = py_files // 2
    files.append("%s/__init__.py" % name)
    files += ["%s/m%02d.py" % (name, i) for i in range(half - 1)]
    files.append("%s/sub/__init__.py" % name)
    files += ["%s/sub/m%02d.py" % (name, i) for i in range(py_files - half - 1)]
    for i, rel in enumerate(files):
        write(os.path.join(site, rel), module_source(name, rel, i))
    info = "%s-1.0.dist-info" % name
    write(os.path.join(site, info, "METADATA"), "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name)
    write(os.path.join(site, info, "INSTALLER"), "bench\n")
    record = files + ["%s/%s" % (info, f) for f in DIST_INFO]
    write(os.path.join(site, info, "RECORD"), "".join("%s,,\n" % r for r in record))


def build_native(python):
    """Builds the native distribution once per interpreter; returns its folder (site-dir shaped)."""
    paths = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                 "print(sysconfig.get_config_var('EXT_SUFFIX'))"]).stdout.split()
    include, suffix = paths[0], paths[1]
    out = os.path.join(CACHE, "scale", "native-%s" % suffix.strip(".").replace(".", "-"))
    if os.path.exists(os.path.join(out, ".complete")):
        return out
    remove(out)
    src = os.path.join(out, "src")
    pkg = os.path.join(out, "site", "gen_native")
    libs = os.path.join(out, "site", "gen_native.libs")
    os.makedirs(src), os.makedirs(pkg), os.makedirs(libs)
    write(os.path.join(src, "core.c"), CORE_C)
    write(os.path.join(src, "rt.c"), RT_C)
    run(["gcc", "-shared", "-fPIC", "-O2", "-Wl,-soname,libgen_core.so.1",
         "-o", os.path.join(libs, "libgen_core.so.1"), os.path.join(src, "core.c")])
    run(["gcc", "-shared", "-fPIC", "-O2", "-Wl,-soname,libgen_rt.so",
         "-o", os.path.join(pkg, "libgen_rt.so"), os.path.join(src, "rt.c")])
    for i in range(4):
        c = os.path.join(src, "ext%d.c" % i)
        write(c, EXT_C % {"index": i})
        run(["gcc", "-shared", "-fPIC", "-O2", "-I", include, "-o", os.path.join(pkg, "_ext%d%s" % (i, suffix)),
             c, "-L", libs, "-l:libgen_core.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../gen_native.libs"])
    write(os.path.join(pkg, "__init__.py"), NATIVE_INIT)
    info = os.path.join(out, "site", "gen_native-1.0.dist-info")
    write(os.path.join(info, "METADATA"), "Metadata-Version: 2.1\nName: gen_native\nVersion: 1.0\n")
    write(os.path.join(info, "INSTALLER"), "bench\n")
    write(os.path.join(info, "RECORD"), "")
    write(os.path.join(out, ".complete"), "")
    return out


def generate(python, files, out):
    """A venv at OUT/venv whose site dir holds exactly `files` files, and its app OUT/app/app.py.

    The app has a folder of its own: shenzi packages the entry script's folder as the
    app's code, and this measures the site dir, not a venv inside the app's folder.

    Returns (venv python, app path). Idempotent: an existing complete one is reused.
    """
    marker = os.path.join(out, ".complete")
    if os.path.exists(marker):
        return os.path.join(out, "venv", "bin", "python"), os.path.join(out, "app", "app.py")
    log("scale: generating a site dir of %d files in %s" % (files, out))
    remove(out)
    native = build_native(python)
    run([python, "-m", "venv", "--without-pip", os.path.join(out, "venv")])
    venv_python = os.path.join(out, "venv", "bin", "python")
    site = run([venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    run(["cp", "-a", os.path.join(native, "site", "."), site])
    left = files - count_files(site)
    packages = []
    while left > 0:
        count = min(FILES_PER_DIST, left)
        if left - count and left - count < 6:
            count = left - 6  # keep the last distribution big enough for its shape
        name = "gen_pkg_%04d" % len(packages)
        pure_dist(site, name, max(count, 6))
        packages.append(name)
        left -= max(count, 6)
    assert count_files(site) == files, (count_files(site), files)
    write(os.path.join(out, "app", "app.py"), APP % {"packages": packages})
    write(marker, "")
    return venv_python, os.path.join(out, "app", "app.py")


def count_files(path):
    return sum(len(names) for _, _, names in os.walk(path))


if __name__ == "__main__":
    from benchlib import pyenv_python

    py, app = generate(pyenv_python(11), int(sys.argv[1]), os.path.abspath(sys.argv[2]))
    print(run([py, app]).stdout)
