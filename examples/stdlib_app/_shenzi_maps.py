"""Test hook of shenzi's hidden-world suite (tests/e2e_hidden.rs); inert otherwise.

Only when HIDDEN_WORLD_DUMP_DIR is set (the test harness sets it; a dist never does),
this process writes its /proc/self/{maps,environ,cmdline} into that folder at exit, as
`<pid>.<tag>.<part>`, so the suite can check that every object the app mapped lies
inside the dist. The app's modules import this module first, so its Python children
(multiprocessing, `sys.executable -m ...`) dump too; code that ends with `os._exit` or a
signal (pool workers) calls `hidden_world_dump` itself. At exit it also records the
maps of live children that run none of the app's code (multiprocessing's resource
tracker), tag `child`. `SH_DUMP` appended to a `sh -c` script dumps that shell's maps.
The body of `hidden_world_dump` is tests/support/hidden.rs's PY_DUMP_SNIPPET, verbatim.
examples/wheels_app/_shenzi_maps.py is a symlink to this file: one hook for both apps.
"""

def hidden_world_dump(tag="exit"):
    import os
    folder = os.environ.get("HIDDEN_WORLD_DUMP_DIR")
    if not folder:
        return
    pid = os.getpid()
    for part in ("maps", "environ", "cmdline"):
        try:
            with open("/proc/self/" + part, "rb") as src:
                data = src.read()
        except (IOError, OSError):
            continue
        final = os.path.join(folder, "%d.%s.%s" % (pid, tag, part))
        with open(final + ".tmp", "wb") as dst:
            dst.write(data)
        os.rename(final + ".tmp", final)

import atexit as _hidden_world_atexit
_hidden_world_atexit.register(hidden_world_dump)


def _dump_live_children():
    import os
    folder = os.environ.get("HIDDEN_WORLD_DUMP_DIR")
    if not folder:
        return
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % pid) as stat:
                if stat.read().rsplit(")", 1)[1].split()[1] != me:
                    continue
            for part in ("maps", "environ", "cmdline"):
                with open("/proc/%s/%s" % (pid, part), "rb") as src:
                    data = src.read()
                with open(os.path.join(folder, "%s.child.%s" % (pid, part)), "wb") as dst:
                    dst.write(data)
        except (IOError, OSError, IndexError):
            continue  # not a process, or it exited meanwhile


_hidden_world_atexit.register(_dump_live_children)

SH_DUMP = (
    '; if [ -n "${HIDDEN_WORLD_DUMP_DIR-}" ]; then while IFS= read -r l; do printf "%s\\n" "$l";'
    ' done < /proc/$$/maps > "$HIDDEN_WORLD_DUMP_DIR/$$.sh.maps"; fi'
)
