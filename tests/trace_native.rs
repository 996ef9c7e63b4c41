//! The trace at the system-call level, through the real binary: files that native code
//! opens and programs that native code or a shell starts, in every descendant, recorded
//! in the manifest (`native_data`, `native_env`, `executables`), without changing the
//! app; and a trace that still works, and says so, where the mechanism is unavailable.
//!
//! Fixture libraries and programs are built with gcc from `tests/fixtures/trace_native`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{describe, python311, repo_root, shenzi, text, trace_command};

/// A scratch folder with the fixtures built into it.
struct Kit {
    dir: tempfile::TempDir,
}

impl Kit {
    fn new() -> Self {
        Kit {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `gcc` a fixture from `tests/fixtures/trace_native` into the kit.
    fn gcc(&self, source: &str, out: &str, extra: &[String]) -> PathBuf {
        let output = self.path(out);
        std::fs::create_dir_all(output.parent().unwrap()).unwrap();
        let src = repo_root().join("tests/fixtures/trace_native").join(source);
        let shared = out.ends_with(".so");
        let mut cmd = Command::new("gcc");
        cmd.args(["-O1", "-Wall", "-Werror"]);
        if shared {
            cmd.args(["-shared", "-fPIC"]);
        }
        cmd.args(extra).arg("-o").arg(&output).arg(src);
        let out = cmd.output().expect("gcc runs");
        assert!(out.status.success(), "gcc {source}: {}", describe(&out));
        output
    }

    /// The data-reading library, with `DATA_FILE` compiled in.
    fn opendata(&self, data_file: &Path) -> PathBuf {
        self.gcc(
            "opendata.c",
            "lib/libopendata.so",
            &[format!("-DDATA_FILE=\"{}\"", data_file.display())],
        )
    }

    /// `shenzi trace -o m.json -- PYTHON SCRIPT` in the kit, with extra environment.
    fn trace(&self, python: &Path, script: &str, env: &[(&str, &str)]) -> (Output, Value) {
        let manifest = self.path("m.json");
        let mut cmd = trace_command(&manifest, [python.as_os_str(), script.as_ref()]);
        cmd.current_dir(self.dir.path()).env("NO_COLOR", "1");
        cmd.env_remove(SYSCALLS_VAR);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(manifest.is_file(), "no manifest: {}", describe(&out));
        (out, read(&manifest))
    }

    /// The same script, untraced.
    fn run_plain(&self, python: &Path, script: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(python);
        cmd.arg(script).current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

const SYSCALLS_VAR: &str = "SHENZI_TRACE_SYSCALLS";

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn real(path: impl AsRef<Path>) -> String {
    std::fs::canonicalize(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
        .to_string_lossy()
        .into_owned()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The entry of manifest list `list` whose `path` is `path`.
fn entry<'a>(m: &'a Value, list: &str, path: &str) -> Option<&'a Value> {
    m[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
}

/// The `native_data` entry for `path`.
fn data<'a>(m: &'a Value, path: &Path) -> &'a Value {
    let path = path.to_str().unwrap();
    entry(m, "native_data", path)
        .unwrap_or_else(|| panic!("`{path}` is not in native_data: {:#}", m["native_data"]))
}

fn has_data(m: &Value, path: &Path) -> bool {
    entry(m, "native_data", path.to_str().unwrap()).is_some()
}

/// The `executables` entry whose real path is `path`.
fn program<'a>(m: &'a Value, path: &str) -> &'a Value {
    entry(m, "executables", path)
        .unwrap_or_else(|| panic!("`{path}` is not in executables: {:#}", m["executables"]))
}

fn has_program(m: &Value, path: &str) -> bool {
    entry(m, "executables", path).is_some()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    text(&out.stderr).lines().map(str::to_owned).collect()
}

/// The traced interpreter's real path, as the manifest names programs.
fn python_real() -> String {
    real(python311())
}

fn which(name: &str) -> String {
    let path = std::env::var_os("PATH").unwrap();
    let found = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH"));
    real(found)
}

#[test]
fn files_a_c_library_opens_are_native_data_with_the_program_and_the_variable() {
    let kit = Kit::new();
    let fixed = kit.write("share/fixed.dat", "compiled-in\n");
    let env_dir = kit.path("share/from-env");
    kit.write("share/from-env/table.dat", "from the environment\n");
    let app_dir = kit.path("share/set-by-app");
    kit.write("share/set-by-app/table.dat", "set by the app\n");
    kit.write("share/plugins/conf/plugin.cfg", "relative to a folder fd\n");
    kit.write("work/local.cfg", "relative to the working folder\n");
    let python_read = kit.write("share/python-read.txt", "read by Python\n");
    let beside = kit.write("app/beside.txt", "beside the script\n");
    let lib = kit.opendata(&fixed);
    kit.write(
        "app/app.py",
        &format!(
            r#"
import ctypes, os
lib = ctypes.CDLL({lib:?})
buf = ctypes.create_string_buffer(256)
def show(what, n):
    print(what, n, buf.value.decode().strip())
show("compiled-in:", lib.read_compiled_in(buf, 256))
show("env:", lib.read_from_env(b"SHENZI_FIXTURE_DATA", buf, 256))
os.environ["SHENZI_FIXTURE_APP_DATA"] = {app_dir:?}
show("set by app:", lib.read_from_env(b"SHENZI_FIXTURE_APP_DATA", buf, 256))
show("at:", lib.read_at({plugins:?}.encode(), b"conf/plugin.cfg", buf, 256))
os.chdir("work")
show("relative:", lib.read_relative(b"local.cfg", buf, 256))
print("python:", open({python_read:?}).read().strip())
print("beside:", open(os.path.join(os.path.dirname(__file__), "beside.txt")).read().strip())
with open("written.txt", "w") as f:
    f.write("output")
show("own output:", lib.read_relative(b"written.txt", buf, 256))
"#,
            lib = lib.to_str().unwrap(),
            app_dir = app_dir.to_str().unwrap(),
            plugins = kit.path("share/plugins").to_str().unwrap(),
            python_read = python_read.to_str().unwrap(),
        ),
    );
    // No bytecode cache to read: every module is read from its source, so the tracer's
    // own imports at exit (after its module snapshot) open `.py` files too.
    let cache = kit.path("pycache");
    let env = [
        ("SHENZI_FIXTURE_DATA", env_dir.to_str().unwrap()),
        ("PYTHONPYCACHEPREFIX", cache.to_str().unwrap()),
    ];
    let python = python311();
    let (out, m) = kit.trace(&python, "app/app.py", &env);
    assert!(out.status.success(), "{}", describe(&out));
    let untraced = kit.run_plain(&python, "app/app.py", &env);
    assert_eq!(text(&out.stdout), text(&untraced.stdout));
    assert!(text(&out.stdout).contains("relative: 31 relative to the working folder"));

    assert_eq!(m["runs"][0]["syscalls"], true);
    let me = python_real();
    for (file, audit) in [
        (fixed.clone(), false),
        (env_dir.join("table.dat"), false),
        (app_dir.join("table.dat"), false),
        (kit.path("share/plugins/conf/plugin.cfg"), false),
        (kit.path("work/local.cfg"), false),
        (python_read.clone(), true),
    ] {
        let entry = data(&m, &file);
        assert_eq!(strings(&entry["opened_by"]), vec![me.as_str()], "{file:?}");
        assert_eq!(entry["audit"], audit, "{file:?}");
    }
    // What the run wrote itself is its output, not its data.
    assert!(!has_data(&m, &kit.path("work/written.txt")));
    // Data files (Python's opens below `sys.path`) stay data files, and only those.
    let data_files: Vec<&str> = m["data_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(data_files, [beside.to_str().unwrap()]);
    assert!(!has_data(&m, &beside));
    // Nothing of the kernel's views, no ELF object, and none of the tracer's own work at
    // exit (it imports `sysconfig`, `shutil`, ... after the module snapshot).
    for d in m["native_data"].as_array().unwrap() {
        let path = d["path"].as_str().unwrap();
        assert!(
            !path.starts_with("/proc/") && !path.starts_with("/dev/") && !path.ends_with(".py"),
            "{path}"
        );
        let head = std::fs::read(path).unwrap_or_default();
        assert!(!head.starts_with(b"\x7fELF"), "{path} is an ELF object");
    }

    let env_of = |name: &str| -> Vec<(String, String)> {
        m["native_env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == name)
            .map(|e| {
                (
                    e["program"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        env_of("SHENZI_FIXTURE_DATA"),
        vec![(me.clone(), env_dir.to_str().unwrap().to_owned())]
    );
    assert_eq!(
        env_of("SHENZI_FIXTURE_APP_DATA"),
        vec![(me.clone(), app_dir.to_str().unwrap().to_owned())]
    );
    // Only name and value: no other field, and no variable that points at nothing opened.
    for e in m["native_env"].as_array().unwrap() {
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "program", "runs", "value"]);
        assert!(!e["name"].as_str().unwrap().starts_with("SHENZI_TRACE"));
    }
}

#[test]
fn programs_started_by_native_code_shells_and_scripts_are_executables() {
    let kit = Kit::new();
    let spawner = kit.gcc("spawner.c", "lib/libspawner.so", &[]);
    let tool = kit.write("bin/tool.sh", "#!/bin/sh -e\necho tool ran\n");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    kit.write(
        "app.py",
        &format!(
            r#"
import ctypes, subprocess, sys
lib = ctypes.CDLL({spawner:?})
sys.stdout.flush()
print("spawned:", lib.run_program(b"uname", b"-s"), flush=True)
subprocess.run("uname -s | file -", shell=True, check=True)
subprocess.run([{tool:?}], check=True)
sys.exit(7)
"#,
            spawner = spawner.to_str().unwrap(),
            tool = tool.to_str().unwrap(),
        ),
    );
    let python = python311();
    let (out, m) = kit.trace(&python, "app.py", &[]);
    let untraced = kit.run_plain(&python, "app.py", &[]);
    assert_eq!(untraced.status.code(), Some(7));
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert_eq!(text(&out.stdout), text(&untraced.stdout));
    assert!(text(&out.stdout).contains("/dev/stdin: ASCII text"));

    let me = python_real();
    let sh = real("/bin/sh");
    let uname = which("uname");
    let file = which("file");

    // `posix_spawnp` from C: no audit event, seen at the system-call level.
    let u = program(&m, &uname);
    assert_eq!(strings(&u["started_by"]), ["shell", "native"]);
    let mut parents = vec![me.clone(), sh.clone()];
    parents.sort();
    assert_eq!(strings(&u["parents"]), parents);
    assert!(strings(&u["names"]).contains(&"uname".to_owned()));
    assert_eq!(u["name"], "uname");
    assert_eq!(u["is_python"], false);

    // `shell=True`: the shell is Python's, what it runs is the shell's.
    let s = program(&m, &sh);
    assert_eq!(strings(&s["started_by"]), ["subprocess", "interpreter"]);
    assert_eq!(s["via"], "subprocess");
    assert_eq!(s["name"], "/bin/sh");
    let f = program(&m, &file);
    assert_eq!(strings(&f["started_by"]), ["shell"]);
    assert_eq!(strings(&f["parents"]), [sh.as_str()]);
    // `file` reads its magic database: native data of that program.
    let magic = m["native_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with(".mgc"))
        .unwrap_or_else(|| panic!("no magic database: {:#}", m["native_data"]));
    assert_eq!(strings(&magic["opened_by"]), [file.as_str()]);

    // A script: its `#!` line, and its interpreter as a program the kernel ran.
    let t = program(&m, &real(&tool));
    assert_eq!(t["interpreter"], "/bin/sh -e");
    assert_eq!(strings(&t["started_by"]), ["subprocess"]);
    assert!(strings(&s["parents"]).contains(&real(&tool)));

    // One entry per program.
    let mut paths: Vec<&str> = m["executables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    let all = paths.len();
    paths.dedup();
    assert_eq!(paths.len(), all, "{:#}", m["executables"]);
}

#[test]
fn multiprocessing_children_are_traced_at_the_system_call_level() {
    let kit = Kit::new();
    let forked = kit.write("share/forked.dat", "opened in a fork child\n");
    let lib = kit.opendata(&forked);
    let spawned = kit.path("share/spawned");
    kit.write("share/spawned/table.dat", "opened in a spawn child\n");
    kit.write(
        "work.py",
        &format!(
            r#"
import ctypes
def fixed(_):
    buf = ctypes.create_string_buffer(64)
    return ctypes.CDLL({lib:?}).read_compiled_in(buf, 64)
def from_env(_):
    buf = ctypes.create_string_buffer(64)
    return ctypes.CDLL({lib:?}).read_from_env(b"SHENZI_FIXTURE_SPAWNED", buf, 64)
"#,
            lib = lib.to_str().unwrap()
        ),
    );
    kit.write(
        "app.py",
        r#"
import multiprocessing, work
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("fork:", pool.map(work.fixed, range(2)))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print("spawn:", pool.map(work.from_env, range(1)))
"#,
    );
    let env = [("SHENZI_FIXTURE_SPAWNED", spawned.to_str().unwrap())];
    let (out, m) = kit.trace(&python311(), "app.py", &env);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "fork: [23, 23]\nspawn: [24]\n",
        "{}",
        describe(&out)
    );
    let me = python_real();
    // Only the children opened these files.
    assert_eq!(strings(&data(&m, &forked)["opened_by"]), [me.as_str()]);
    assert_eq!(
        strings(&data(&m, &spawned.join("table.dat"))["opened_by"]),
        [me.as_str()]
    );
    assert!(
        m["native_env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "SHENZI_FIXTURE_SPAWNED" && e["program"] == me.as_str())
    );
    // The spawn context runs the interpreter again.
    assert_eq!(program(&m, &me)["is_python"], true);
}

#[test]
fn a_python_that_is_not_the_traced_one_as_a_grandchild() {
    let other = Path::new("/usr/bin/python3");
    if !other.exists() {
        eprintln!("SKIPPED: needs Debian's /usr/bin/python3");
        return;
    }
    let kit = Kit::new();
    let fixed = kit.write("share/grandchild.dat", "read by another Python\n");
    let lib = kit.opendata(&fixed);
    kit.write(
        "child.py",
        &format!(
            "import ctypes, json\nbuf = ctypes.create_string_buffer(64)\nprint('grandchild read', ctypes.CDLL({:?}).read_compiled_in(buf, 64))\n",
            lib.to_str().unwrap()
        ),
    );
    kit.write(
        "app.py",
        "import subprocess\nsubprocess.run('/usr/bin/python3 child.py', shell=True, check=True)\n",
    );
    // No bytecode cache: the grandchild reads its standard library from source.
    let cache = kit.path("pycache");
    let env = [("PYTHONPYCACHEPREFIX", cache.to_str().unwrap())];
    let (out, m) = kit.trace(&python311(), "app.py", &env);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "grandchild read 23\n");
    let debian = real(other);
    let entry = program(&m, &debian);
    assert_eq!(strings(&entry["started_by"]), ["shell"]);
    assert_eq!(strings(&entry["parents"]), [real("/bin/sh")]);
    assert_eq!(entry["is_python"], false);
    // Its native opens are recorded under its own program...
    assert_eq!(strings(&data(&m, &fixed)["opened_by"]), [debian.as_str()]);
    // ...but its own standard library is code of that interpreter, not data.
    assert!(
        !m["native_data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"].as_str().unwrap().starts_with("/usr/lib/python3")),
        "{:#}",
        m["native_data"]
    );
    assert!(
        text(&out.stderr).contains("ran another interpreter"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_wrapper_that_starts_python_is_not_part_of_the_app() {
    let kit = Kit::new();
    let wrapper = kit.write(
        "run.sh",
        &format!(
            "#!/bin/sh\ndate > /dev/null\nexec {} \"$@\"\n",
            python311().display()
        ),
    );
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    kit.write(
        "app.py",
        "import subprocess\nsubprocess.run(['uname', '-s'], check=True)\n",
    );
    let manifest = kit.path("m.json");
    let out = trace_command(&manifest, [wrapper.as_os_str(), "app.py".as_ref()])
        .current_dir(kit.dir.path())
        .env_remove(SYSCALLS_VAR)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let m = read(&manifest);
    assert!(has_program(&m, &which("uname")));
    // What the wrapper ran before Python started is not the app's.
    assert!(!has_program(&m, &which("date")), "{:#}", m["executables"]);
}

/// A process the app leaves running keeps working after shenzi has exited: its notified
/// calls are answered by the helper shenzi leaves behind (without it, they would fail
/// with `ENOSYS`).
#[test]
fn processes_that_outlive_the_trace_keep_working() {
    let kit = Kit::new();
    let input = kit.write("input.txt", "still served\n");
    let go = kit.path("go");
    let output = kit.path("output.txt");
    // The job waits for the test's go, given once shenzi has exited, then runs programs
    // and opens files.
    let job = format!(
        "while [ ! -e {go} ]; do sleep 0.05; done; cat {input} > {output}.tmp && mv {output}.tmp {output}",
        go = go.display(),
        input = input.display(),
        output = output.display()
    );
    kit.write(
        "app.py",
        &format!(
            r#"
import subprocess
subprocess.Popen(["sh", "-c", {job:?}], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"#
        ),
    );
    let (out, _) = kit.trace(&python311(), "app.py", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("were still running after the app ended"),
        "{}",
        describe(&out)
    );
    std::fs::write(&go, "").unwrap();
    // Not a timing assertion: waits, generously, for the job to finish its work.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !output.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&output).unwrap_or_default(),
        "still served\n"
    );
}

/// Where the mechanism is unavailable the trace works as before (audit hooks only) and
/// says so in one line: turned off by the variable, and forbidden by a real seccomp
/// sandbox around shenzi.
#[test]
fn without_the_mechanism_the_trace_still_works_and_says_so() {
    let kit = Kit::new();
    let fixed = kit.write("share/fixed.dat", "compiled-in\n");
    let lib = kit.opendata(&fixed);
    let sandbox = kit.gcc("noseccomp.c", "noseccomp", &[]);
    kit.write(
        "app.py",
        &format!(
            "import ctypes, subprocess\nbuf = ctypes.create_string_buffer(64)\nprint(ctypes.CDLL({:?}).read_compiled_in(buf, 64))\nsubprocess.run('uname -s > /dev/null', shell=True)\n",
            lib.to_str().unwrap()
        ),
    );
    let python = python311();
    let cases: [(&str, Command, &str); 2] = [
        ("variable", shenzi(), "(`SHENZI_TRACE_SYSCALLS=0`)"),
        (
            "sandbox",
            {
                let mut cmd = Command::new(&sandbox);
                cmd.arg(env!("CARGO_BIN_EXE_shenzi"));
                cmd
            },
            "(seccomp user notification is unavailable: Operation not permitted (os error 1))",
        ),
    ];
    for (name, mut cmd, reason) in cases {
        let manifest = kit.path(&format!("{name}.json"));
        cmd.args(["trace", "-o"])
            .arg(&manifest)
            .arg("--")
            .arg(&python)
            .arg("app.py")
            .current_dir(kit.dir.path())
            .stdin(Stdio::null());
        match name {
            "variable" => cmd.env(SYSCALLS_VAR, "0"),
            _ => cmd.env_remove(SYSCALLS_VAR),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{name}: {}", describe(&out));
        assert_eq!(text(&out.stdout), "12\n", "{name}");
        let lines = stderr_lines(&out);
        assert_eq!(
            lines,
            [
                format!("shenzi: note: native opens and execs were not recorded {reason}"),
                lines[1].clone()
            ],
            "{name}"
        );
        assert!(lines[1].starts_with("shenzi: wrote"), "{name}: {lines:?}");
        let m = read(&manifest);
        assert_eq!(m["runs"][0]["syscalls"], false, "{name}");
        assert_eq!(m["native_data"], serde_json::json!([]), "{name}");
        // The audit hooks still saw the shell.
        assert_eq!(
            strings(&program(&m, &real("/bin/sh"))["started_by"]),
            ["subprocess"],
            "{name}"
        );
        assert!(!has_program(&m, &which("uname")), "{name}");
        assert!(
            m["native"]["loads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["name"] == lib.to_str().unwrap()),
            "{name}"
        );
    }
}

/// Without `CAP_SYS_ADMIN` the filter needs `no_new_privs`: set-user-ID programs the app
/// runs lose their privileges, and the trace names them.
#[test]
fn a_user_without_privileges_is_told_which_programs_ran_without_theirs() {
    let python = Path::new("/usr/bin/python3");
    let setuid = Path::new("/usr/bin/mount");
    let setpriv = Path::new("/usr/bin/setpriv");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !(python.exists() && setuid.exists() && setpriv.exists() && root) {
        eprintln!("SKIPPED: needs root, setpriv, /usr/bin/python3 and a set-user-ID mount");
        return;
    }
    assert_ne!(
        std::fs::metadata(setuid).unwrap().permissions().mode() & 0o4000,
        0
    );
    let kit = Kit::new();
    std::fs::set_permissions(kit.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let fixed = kit.write("fixed.dat", "compiled-in\n");
    let lib = kit.opendata(&fixed);
    kit.write(
        "app.py",
        &format!(
            "import ctypes, subprocess\nbuf = ctypes.create_string_buffer(64)\nprint(ctypes.CDLL({:?}).read_compiled_in(buf, 64))\nsubprocess.run(['/usr/bin/mount', '--version'], stdout=subprocess.DEVNULL)\n",
            lib.to_str().unwrap()
        ),
    );
    let manifest = kit.path("m.json");
    let out = Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_shenzi"))
        .arg("trace")
        .arg("-o")
        .arg(&manifest)
        .arg("--")
        .arg(python)
        .arg("app.py")
        .current_dir(kit.dir.path())
        .env("HOME", kit.dir.path())
        .env_remove(SYSCALLS_VAR)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "12\n");
    let m = read(&manifest);
    assert_eq!(m["runs"][0]["syscalls"], true, "{}", describe(&out));
    assert_eq!(
        strings(&data(&m, &fixed)["opened_by"]),
        [real(python)],
        "{}",
        describe(&out)
    );
    let warning = format!(
        "shenzi: warning: `{}` is set-user-ID, set-group-ID or has file capabilities: under the trace it ran without them (`no_new_privs`); trace with `SHENZI_TRACE_SYSCALLS=0` if the app needs them",
        setuid.display()
    );
    assert!(stderr_lines(&out).contains(&warning), "{}", describe(&out));
}

/// `--append` merges the system-call records as a set union, in any order.
#[test]
fn append_merges_native_data_and_programs() {
    let kit = Kit::new();
    let one = kit.write("share/one.dat", "one\n");
    let two = kit.write("share/two.dat", "two\n");
    let lib_one = kit.gcc(
        "opendata.c",
        "lib/libone.so",
        &[format!("-DDATA_FILE=\"{}\"", one.display())],
    );
    let lib_two = kit.gcc(
        "opendata.c",
        "lib/libtwo.so",
        &[format!("-DDATA_FILE=\"{}\"", two.display())],
    );
    for (script, lib, command) in [
        ("a.py", &lib_one, "uname -s"),
        ("b.py", &lib_two, "uname -s; file /dev/null"),
    ] {
        kit.write(
            script,
            &format!(
                "import ctypes, subprocess\nbuf = ctypes.create_string_buffer(64)\nctypes.CDLL({:?}).read_compiled_in(buf, 64)\nsubprocess.run({command:?}, shell=True, stdout=subprocess.DEVNULL)\n",
                lib.to_str().unwrap()
            ),
        );
    }
    let python = python311();
    let trace = |output: &str, append: bool, script: &str| {
        let mut cmd = shenzi();
        cmd.arg("trace").arg("-o").arg(kit.path(output));
        if append {
            cmd.arg("--append");
        }
        let out = cmd
            .arg("--")
            .arg(&python)
            .arg(script)
            .current_dir(kit.dir.path())
            .env_remove(SYSCALLS_VAR)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    };
    trace("ab.json", false, "a.py");
    trace("ab.json", true, "b.py");
    trace("ba.json", false, "b.py");
    trace("ba.json", true, "a.py");
    let ab = read(&kit.path("ab.json"));
    let ba = read(&kit.path("ba.json"));
    for key in ["native_data", "native_env", "executables", "runs"] {
        assert_eq!(ab[key], ba[key], "`{key}` depends on merge order");
    }
    let run_of = |script: &str| {
        ab["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["command"][1] == script)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (a, b) = (run_of("a.py"), run_of("b.py"));
    assert_eq!(strings(&data(&ab, &one)["runs"]), [a.as_str()]);
    assert_eq!(strings(&data(&ab, &two)["runs"]), [b.as_str()]);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(strings(&program(&ab, &which("uname"))["runs"]), both);
    assert_eq!(strings(&program(&ab, &which("file"))["runs"]), [b]);
    assert!(
        ab["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["syscalls"] == true)
    );
}

/// A manifest written before the system-call level (none of its fields) still reads, and
/// `--append` merges a new run into it: one entry per program, its old `via` kept.
#[test]
fn a_manifest_from_before_the_system_call_level_reads_and_merges() {
    let kit = Kit::new();
    kit.write(
        "app.py",
        "import subprocess\nsubprocess.run(['uname', '-s'], stdout=subprocess.DEVNULL)\n",
    );
    let python = python311();
    let (_, mut m) = kit.trace(&python, "app.py", &[]);
    // As version 1 manifests were written before: no syscall fields at all.
    let top = m.as_object_mut().unwrap();
    top.remove("native_data");
    top.remove("native_env");
    for run in top["runs"].as_array_mut().unwrap() {
        run.as_object_mut().unwrap().remove("syscalls");
    }
    for e in top["executables"].as_array_mut().unwrap() {
        let e = e.as_object_mut().unwrap();
        for key in ["names", "started_by", "parents", "interpreter"] {
            e.remove(key);
        }
    }
    let old = serde_json::to_string_pretty(&m).unwrap();
    assert!(!old.contains("started_by") && !old.contains("native_data"));
    let manifest = kit.path("m.json");
    std::fs::write(&manifest, old).unwrap();
    let out = shenzi()
        .args(["trace", "--append", "-o"])
        .arg(&manifest)
        .arg("--")
        .arg(&python)
        .arg("app.py")
        .current_dir(kit.dir.path())
        .env_remove(SYSCALLS_VAR)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let merged = read(&manifest);
    let uname = program(&merged, &which("uname"));
    assert_eq!(uname["via"], "subprocess");
    assert_eq!(strings(&uname["started_by"]), ["subprocess"]);
    assert_eq!(
        merged["executables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["path"] == which("uname").as_str())
            .count(),
        1
    );
    assert!(!merged["native_data"].as_array().unwrap().is_empty());
}
