"""shenzi's stdlib example: touches the parts of CPython that packaging tools get wrong.

Native extensions (sqlite3, ssl, lzma, bz2, decimal), a library loaded by name through
ctypes, a package data file, a multiprocessing spawn child, a subprocess running
sys.executable, and a shell child. Prints one deterministic line per check.
"""

import _shenzi_maps  # test hook of tests/e2e_hidden.rs: inert unless HIDDEN_WORLD_DUMP_DIR is set

import bz2
import ctypes
import os
import decimal
import json
import lzma
import multiprocessing
import sqlite3
import ssl
import subprocess
import sys

import greeter


def main():
    print("greeting:", greeter.greeting())

    db = sqlite3.connect(":memory:")
    db.execute("create table t (x)")
    db.executemany("insert into t values (?)", [(1,), (2,), (3,)])
    print("sqlite sum:", db.execute("select sum(x) from t").fetchone()[0])

    print("ssl has TLS client:", hasattr(ssl, "PROTOCOL_TLS_CLIENT"))
    ssl.create_default_context()

    libz = ctypes.CDLL("libz.so.1")
    libz.zlibVersion.restype = ctypes.c_char_p
    print("zlib via ctypes:", libz.zlibVersion().decode().split(".")[0])

    data = b"shenzi " * 100
    print("lzma roundtrip:", lzma.decompress(lzma.compress(data)) == data)
    print("bz2 roundtrip:", bz2.decompress(bz2.compress(data)) == data)
    print("decimal:", decimal.Decimal("1.10") + decimal.Decimal("2.20"))

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        print("spawn child:", pool.apply(greeter.spawned_work, (6,)))

    # From the app's folder, so `-m greeter.child` finds the package wherever the app
    # was started from.
    child = subprocess.run(
        [sys.executable, "-m", "greeter.child", "ping"],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    )
    print("subprocess child:", child.stdout.strip())

    shell = subprocess.run(
        ["sh", "-c", "echo shell child ok" + _shenzi_maps.SH_DUMP],
        capture_output=True,
        text=True,
        check=True,
    )
    print("sh child:", shell.stdout.strip())

    print(json.dumps({"argv": sys.argv[1:]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
