# shenzi's tracer. shenzi puts this file, as `sitecustomize.py`, in a private folder at
# the front of PYTHONPATH, so every Python process of the traced run (children included)
# loads it at startup. It records what the process really used and writes one JSON record
# into $SHENZI_TRACE_DIR when the process ends. It must never change the app: it prints
# nothing, raises nothing, and hands over to the app's own sitecustomize.
#
# Runs on CPython 3.8 and later: no syntax or library newer than 3.8.

import os
import sys


def _shenzi_install():
    out_dir = os.environ.get("SHENZI_TRACE_DIR")
    here = os.path.dirname(os.path.abspath(__file__))
    if not out_dir or not hasattr(sys, "addaudithook"):
        return
    # Take our folder off sys.path so the app sees the path it would have had.
    # (PYTHONPATH keeps it, so that child processes are traced too.)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]

    state = {
        "loads": [],
        "execs": [],
        "opens": set(),
        "written": False,
        "pid": os.getpid(),
        "writing": False,
        "pending_signal": 0,
        # How the interpreter was told to start, from CPython's own audit events.
        "main": None,
        # sys.path when the main code starts: the script's folder is in it by then.
        "path": list(sys.path),
    }

    def caller_module():
        # The first frame outside ctypes, cffi and this file names the asking module.
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if not (
                name == "ctypes"
                or name.startswith("ctypes.")
                or name == "cffi"
                or name.startswith("cffi.")
                or frame.f_code.co_filename == __file__
            ):
                return name
            frame = frame.f_back
        return None

    code_suffixes = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth")

    def on_open(event, args):
        path, mode = args[0], args[1]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or path.endswith(code_suffixes):
            return
        if isinstance(mode, str):
            if "w" in mode or "a" in mode or "x" in mode or "+" in mode:
                return
        elif len(args) > 2 and isinstance(args[2], int):
            if args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                return
        state["opens"].add(os.path.abspath(path))

    def on_run(event, args):
        if state["main"] is not None:
            return
        state["path"] = list(sys.path)
        if event == "cpython.run_file":
            state["main"] = ["script", os.path.abspath(os.fsdecode(args[0]))]
        elif event == "cpython.run_module":
            state["main"] = ["module", args[0]]
        elif event == "cpython.run_command":
            state["main"] = ["code", "-c"]
        else:
            state["main"] = ["code", "-"]

    def on_dlopen(event, args):
        name = args[0]
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        if isinstance(name, str):
            if "/" in name:
                name = os.path.abspath(name)
            state["loads"].append(["ctypes", name, caller_module()])

    def on_popen(event, args):
        executable, argv = args[0], args[1]
        name = executable
        if name is None:
            if isinstance(argv, (list, tuple)) and argv:
                name = argv[0]
            elif isinstance(argv, (str, bytes)) and argv.split():
                name = argv.split()[0]
        state["execs"].append(["subprocess", name, _env_path(args[3])])

    def on_exec(event, args):
        state["execs"].append(["exec", args[0], _env_path(args[2])])
        # exec replaces the process image: atexit will not run.
        finish()

    def on_spawn(event, args):
        state["execs"].append(["posix_spawn", args[0], _env_path(args[2])])

    def on_system(event, args):
        state["execs"].append(["system", "/bin/sh", None])

    # Most audit events (compile, exec, marshal.loads, sys._getframe, ...) are of no
    # interest: one dict lookup and they are gone.
    handlers = {
        "open": on_open,
        "cpython.run_file": on_run,
        "cpython.run_module": on_run,
        "cpython.run_command": on_run,
        "cpython.run_stdin": on_run,
        "ctypes.dlopen": on_dlopen,
        "subprocess.Popen": on_popen,
        "os.exec": on_exec,
        "os.posix_spawn": on_spawn,
        "os.system": on_system,
    }
    lookup = handlers.get

    def hook(event, args):
        handler = lookup(event)
        if handler is not None:
            try:
                handler(event, args)
            except Exception:
                pass

    def finish():
        if state["written"] or os.getpid() != state["pid"]:
            return
        state["written"] = True
        state["writing"] = True
        try:
            write_record()
        except Exception:
            pass
        finally:
            state["writing"] = False
            try:
                os.unlink(live_marker(state["pid"]))
            except OSError:
                pass
        if state["pending_signal"]:
            die_of(state["pending_signal"])

    def write_record():
        # Tell shenzi's system-call supervisor that what this process opens from here on
        # (sysconfig, shutil, ...) is the tracer's work, not the app's. The file need not
        # exist: the open itself is the message.
        try:
            os.close(os.open(os.path.join(out_dir, ".quiet"), os.O_RDONLY))
        except OSError:
            pass
        # Snapshot the modules before importing anything for our own use.
        modules = []
        for name, module in list(sys.modules.items()):
            modules.append(_describe_module(name, module))
        maps = _mapped_files()
        opens = sorted(state["opens"])

        record = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "started": _start_ticks(),
            "python": _python_facts(state["path"]),
            "main": {
                "kind": (state["main"] or ["code", "-"])[0],
                "target": (state["main"] or ["code", "-"])[1],
                "argv": list(sys.argv),
                "cwd": os.getcwd(),
            },
            "modules": modules,
            "maps": maps,
            "loads": state["loads"],
            "execs": [_resolve_exec(e) for e in state["execs"]],
            "opens": opens,
            "env": _packaging_env(here),
            "env_paths": _path_env(),
        }
        name = "%d-%s.json" % (os.getpid(), os.urandom(4).hex())
        tmp = os.path.join(out_dir, "." + name)
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(_to_json(record))
        os.rename(tmp, os.path.join(out_dir, name))

    def die_of(signum):
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def on_terminate(signum, frame):
        # Pool.terminate() and plain `kill` end processes with SIGTERM, which skips
        # atexit. Write the record, then die of the same signal as the app would have.
        # A SIGTERM that lands while the record is being written (a pool worker exiting
        # on its own as the pool terminates it) waits until the record is complete.
        if state["writing"]:
            state["pending_signal"] = signum
            return
        finish()
        die_of(signum)

    def live_marker(pid):
        return os.path.join(out_dir, "%d.live" % pid)

    def mark_live():
        # shenzi waits for every process with a marker to write its record, so helpers
        # that outlive the main process (multiprocessing's resource tracker) are seen.
        try:
            os.close(os.open(live_marker(state["pid"]), os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass

    def after_fork():
        # A forked child has its own life: new pid, and it writes its own record.
        state["pid"] = os.getpid()
        state["written"] = False
        mark_live()

    real_exit = os._exit

    def _exit(code):
        # multiprocessing's fork children leave through os._exit, which skips atexit.
        finish()
        real_exit(code)

    # Keep the original's name and docs so introspection sees what it expects.
    _exit.__name__ = real_exit.__name__
    _exit.__doc__ = real_exit.__doc__
    os._exit = _exit

    import _signal
    import atexit

    mark_live()
    atexit.register(finish)
    # Only where nobody handles SIGTERM: a handler of the app's (installed before, or
    # after, replacing ours) runs as it would untraced.
    if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
        _signal.signal(_signal.SIGTERM, on_terminate)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork)
    sys.addaudithook(hook)


def _packaging_env(here):
    # Only what packaging needs, never secrets; PYTHONPATH without shenzi's own folder.
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "LD_LIBRARY_PATH", "LD_PRELOAD") or k.startswith("PYTHON") or k.startswith("DYLD_")
    }
    if "PYTHONPATH" in env:
        rest = [p for p in env["PYTHONPATH"].split(os.pathsep) if os.path.abspath(p or ".") != here]
        if rest:
            env["PYTHONPATH"] = os.pathsep.join(rest)
        else:
            del env["PYTHONPATH"]
    return env


def _path_env():
    # Variables with an absolute path in their value: shenzi keeps only those that point at
    # a folder of a file this process opened natively, and drops the rest unread.
    env = {}
    for k, v in os.environ.items():
        for part in v.split(":"):
            if len(part) > 1 and part[0] == "/":
                env[k] = v
                break
    return env


# JSON string escapes: quote, backslash and control characters. (The json module would
# cost an import with regex compilation in every traced process; the record only needs
# encoding of str, int, bool, None, list and dict.)
_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t"})


def _to_json(value):
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(_to_json(str(k)) + ":" + _to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_to_json(v) for v in value) + "]"
    return _to_json(str(value))


def _start_ticks():
    # Field 22 of /proc/self/stat: start time in clock ticks since boot, comparable
    # across processes; shenzi uses it to order records.
    try:
        with open("/proc/self/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _env_path(env):
    if isinstance(env, dict):
        value = env.get("PATH", env.get(b"PATH"))
        if isinstance(value, bytes):
            value = os.fsdecode(value)
        return value
    return None


def _resolve_exec(entry):
    via, name, path_var = entry
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        return [via, None, None]
    import shutil

    if "/" in name:
        found = name if os.path.exists(name) else None
    else:
        found = shutil.which(name, path=path_var)
    return [via, name, os.path.realpath(found) if found else None]


def _describe_module(name, module):
    spec = getattr(module, "__spec__", None)
    if name == "__main__" and getattr(spec, "name", None):
        # `python -m pkg.mod`: report the module under its own name.
        name = spec.name
    file = getattr(module, "__file__", None)
    loader = type(getattr(spec, "loader", None) or getattr(module, "__loader__", None)).__name__
    origin = getattr(spec, "origin", None)
    kind = "other"
    if origin == "built-in" or loader == "BuiltinImporter":
        kind, file = "builtin", None
    elif origin == "frozen" or loader == "FrozenImporter":
        kind, file = "frozen", None
    elif loader == "ExtensionFileLoader":
        kind = "extension"
    elif loader == "SourceFileLoader":
        kind = "source"
    elif loader == "SourcelessFileLoader":
        kind = "bytecode"
    elif loader == "zipimporter":
        kind = "zip"
    elif loader in ("NamespaceLoader", "_NamespaceLoader") or (
        spec is not None and origin in (None, "namespace") and spec.submodule_search_locations is not None
    ):
        kind, file = "namespace", None
    elif name == "__main__" and isinstance(file, str):
        kind = "source"
    if file is not None and not isinstance(file, str):
        file = None
    if file is not None:
        file = os.path.abspath(file)
    return [name, kind, file]


def _mapped_files():
    # Every file mapped into this process; shenzi keeps the ELF objects.
    seen = set()
    try:
        with open("/proc/self/maps", "rb") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].rstrip(b"\n")
                    if path.startswith(b"/") and not path.endswith(b" (deleted)"):
                        seen.add(os.fsdecode(path))
    except OSError:
        pass
    return sorted(seen)


def _below(path, root):
    # `path` is `root` or inside it (a plain prefix test would take `/venv2` for `/venv`).
    root = root.rstrip(os.sep)
    return path == root or path.startswith(root + os.sep)


def _prefix_site_dirs(site):
    # The site folders this interpreter's own site.py reads when it runs outside a venv
    # (as a dist's copy does): its `getsitepackages` evaluated with `sys` seen as the base
    # interpreter's. Distributions patch that function (Debian reads only `dist-packages`
    # folders outside a venv), so shenzi asks it rather than knowing each one. Nothing of
    # the running app changes: the function runs on a copy of its globals.
    class BaseSys(object):
        prefix = sys.base_prefix
        exec_prefix = sys.base_exec_prefix

        def __getattr__(self, name):
            # An old `virtualenv` marks itself with `sys.real_prefix`.
            if name == "real_prefix":
                raise AttributeError(name)
            return getattr(sys, name)

    real = site.getsitepackages
    scope = dict(real.__globals__)
    scope["sys"] = BaseSys()
    base = type(real)(real.__code__, scope, real.__name__, real.__defaults__, real.__closure__)
    return [p for p in base([sys.base_prefix, sys.base_exec_prefix]) if isinstance(p, str)]


def _python_facts(initial_path):
    import sysconfig

    paths = sysconfig.get_paths()
    cfg = sysconfig.get_config_var
    dynload = None
    for p in sys.path:
        if os.path.basename(p) == "lib-dynload":
            dynload = p
            break
    if dynload is None:
        dynload = cfg("DESTSHARED")
    site_dirs = []
    prefix_site_dirs = []
    try:
        import site

        # In a venv, `getsitepackages` lists the venv's folders, then (with
        # `include-system-site-packages = true`) the base interpreter's: a folder below
        # the venv's prefix is the venv's, any other the system's.
        in_venv = sys.prefix != sys.base_prefix
        for p in site.getsitepackages():
            site_dirs.append([p, "venv" if in_venv and _below(p, sys.prefix) else "system"])
        if site.ENABLE_USER_SITE is not None:
            user = site.getusersitepackages()
            if user:
                site_dirs.append([user, "user"])
        prefix_site_dirs = _prefix_site_dirs(site)
    except Exception:
        pass
    libc = None
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        pass
    v = sys.version_info
    return {
        "executable": sys.executable,
        "realpath": os.path.realpath(sys.executable) if sys.executable else "",
        "implementation": sys.implementation.name,
        "version": [v.major, v.minor, v.micro, v.releaselevel, v.serial, getattr(sys, "abiflags", "")],
        "cache_tag": sys.implementation.cache_tag,
        "soabi": cfg("SOABI"),
        "ext_suffix": cfg("EXT_SUFFIX"),
        "multiarch": cfg("MULTIARCH"),
        "prefix": sys.prefix,
        "exec_prefix": sys.exec_prefix,
        "base_prefix": sys.base_prefix,
        "base_exec_prefix": sys.base_exec_prefix,
        "platlibdir": getattr(sys, "platlibdir", "lib"),
        "sys_path": initial_path,
        "pythonpath": [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p],
        "stdlib": paths.get("stdlib"),
        "platstdlib": paths.get("platstdlib"),
        "dynload": dynload,
        "site_dirs": site_dirs,
        "prefix_site_dirs": prefix_site_dirs,
        "os": sys.platform,
        "machine": os.uname().machine,
        "libc": libc,
    }


_shenzi_install()
del _shenzi_install


def _shenzi_chain():
    # Hand over to the sitecustomize our file shadows. Its module goes into sys.modules
    # under our name: the import system returns whatever is there when our file ends.
    # Its errors propagate, so site.py reports them exactly as it would have.
    # importlib's frozen bootstrap modules are always loaded: this imports nothing new.
    here = os.path.dirname(os.path.abspath(__file__))
    bootstrap = sys.modules["_frozen_importlib"]
    external = sys.modules["_frozen_importlib_external"]
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = external.PathFinder.find_spec("sitecustomize", rest)
    if spec is None:
        # site.py ignores exactly this error, so the app sees no sitecustomize at all.
        raise ImportError("No module named 'sitecustomize'", name="sitecustomize")
    module = bootstrap.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_shenzi_chain()
