//! Recording, at the system-call level, what Python's audit hooks cannot see: files
//! opened by native code and programs started by native code or by a shell, for the
//! traced program and every one of its descendants.
//!
//! # The mechanism: a seccomp filter that notifies shenzi
//!
//! The traced child installs, just before it executes the command, a seccomp filter that
//! returns `SECCOMP_RET_USER_NOTIF` for five system calls only: `open` (x86_64),
//! `openat` and `openat2` when they open for reading, and `execve` and `execveat`. The
//! filter's listener file descriptor goes back to shenzi over a socket (`SCM_RIGHTS`); a
//! supervisor thread receives each notification, reads the path from the caller's memory
//! (`process_vm_readv`), resolves a relative path against the `dirfd` or the working
//! folder (`/proc/<pid>/fd/<n>`, `/proc/<pid>/cwd`), notes which process and program
//! made the call, and answers `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: the kernel then runs
//! the call exactly as it would have run untraced. Filters are inherited across `fork`,
//! `clone` and `exec` and cannot be removed, so every descendant is covered, whatever
//! starts it (a shell, `posix_spawn` in a C extension, a daemon that double-forks),
//! without following forks.
//!
//! Why this and not the alternatives:
//! - **ptrace** (strace's way) stops the tracee twice per system call of every kind
//!   unless combined with a seccomp filter, must follow every fork, clone and exec
//!   itself, and takes the tracee's one ptrace slot: the app can no longer run a
//!   debugger, `strace` or a crash reporter on its own children. It also changes what
//!   the app sees in `/proc/self/status` (`TracerPid`).
//! - **An `LD_PRELOAD` shim** misses glibc's internal opens (`fopen` inside `iconv`,
//!   NSS, locale loading call the internal `__open` symbols), statically linked programs
//!   and Go binaries, programs that clear their environment, and it is visible to the app
//!   (`LD_PRELOAD` in `os.environ` of every child).
//! - **fanotify** and **eBPF** need `CAP_SYS_ADMIN` and see the whole machine.
//! - The filter makes the kernel do the selection: every other system call, and opens
//!   for writing or of folders, never leave the kernel. A notified call costs two
//!   context switches and a few small system calls in shenzi: about 30 µs of wall time
//!   and 18 µs of CPU on this 2-core machine under a load of 9 (20,000 opens from
//!   Python). The stdlib example makes ~600 notified calls, the wheels app ~240
//!   (`bench/trace_overhead.py` compares the trace with and without this level).
//!
//! What the user gives up, and how it is kept from changing the app:
//! - **`no_new_privs`.** Without `CAP_SYS_ADMIN` (any non-root user) the kernel installs a
//!   filter only in a process with `PR_SET_NO_NEW_PRIVS`, which is inherited and permanent:
//!   set-user-ID and set-group-ID programs the app runs (`sudo`, `su`, `passwd`, `mount`)
//!   and programs with file capabilities run without those privileges. shenzi sets it only
//!   when it must, and names every such program the app ran in a warning, with the way
//!   out: `SHENZI_TRACE_SYSCALLS=0` traces without this mechanism. Root keeps everything.
//! - **One listener per process.** The kernel allows one user-notification listener in a
//!   filter chain: an app that installs its own (a container runtime, a sandbox built on
//!   user notification) gets `EBUSY` under the trace. A filter of the app's that returns
//!   `SECCOMP_RET_TRACE` for these five calls loses to ours (user notification takes
//!   precedence), so a ptrace-based sandbox the app runs does not see them.
//! - **Signals.** A caller waiting for shenzi's answer to an interruptible call sees a
//!   signal with a handler installed without `SA_RESTART` as `EINTR`, where an open of a
//!   regular file is never interrupted untraced. `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`
//!   (5.19+, used when the kernel has it) closes that window once shenzi has received the
//!   notification; what is left is the few microseconds before it does.
//! - **Processes that outlive shenzi.** When the listener is closed, every later notified
//!   call fails with `ENOSYS`. So when traced processes are still running as shenzi
//!   finishes (a daemon the app started), shenzi hands the listener to a small detached
//!   process that answers `CONTINUE` to every call until the last of them has ended.
//! - A 32-bit or x32 program the app runs is not recorded (the filter lets other system
//!   call ABIs through), nor is anything that happens in another mount namespace or after
//!   a `chroot`: paths are taken as shenzi sees them.
//!
//! When the mechanism is unavailable (a kernel older than 5.8, which lacks `POLLHUP` on an
//! unused listener; another architecture than x86_64 or aarch64; seccomp disabled; a
//! sandbox whose own filter forbids `seccomp(2)`; `SHENZI_TRACE_SYSCALLS=0`), the trace
//! runs as before with the audit hooks alone, and says so in one line.
//!
//! What is recorded is raw: every read-only open and every exec attempt, with the image
//! (process and program) that made it. Failed attempts (an exec probing `PATH`, a library
//! probing a search path) are not told apart here: the answer `CONTINUE` gives shenzi no
//! result. `native_io` keeps the files that exist and turns the log into manifest records.
//!
//! Two details of the notified calls are not checked because nothing here makes a
//! security decision: the path is read when the notification arrives, and the
//! notification's id is not re-validated after reading (a racing thread or a recycled pid
//! could only make one record wrong, never a call fail).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// The environment variable that turns the mechanism off: `SHENZI_TRACE_SYSCALLS=0`.
pub const DISABLE_VAR: &str = "SHENZI_TRACE_SYSCALLS";

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Open flags that make an open not a read of a file: writing, a folder, a path only.
const NOT_A_READ: u32 = (libc::O_ACCMODE | libc::O_DIRECTORY | libc::O_PATH) as u32;

/// The longest path read from a process: the kernel refuses longer ones anyway.
const PATH_MAX: usize = 4096;

/// One program image a traced process ran, from when shenzi first saw it (or from its
/// `exec`) to its next `exec`.
#[derive(Debug, Clone)]
pub struct Image {
    /// The process (thread group) id.
    pub tgid: u32,
    /// The program, `/proc/<pid>/exe` when first seen: a real path.
    pub exe: PathBuf,
    /// The image this one came from: the image of the parent process when this process
    /// was first seen, or the image its `exec` replaced. None for shenzi's own child before
    /// it executes the command, and for processes whose parent had already ended.
    pub parent: Option<usize>,
    /// shenzi's own child before it executes the command: never part of the app.
    pub launcher: bool,
    /// The start-up environment of the process (`/proc/<pid>/environ`), read when the
    /// image first opens a file; only variables with an absolute path in their value (or
    /// one `:`-separated part of it). Never written anywhere as such.
    pub env: Vec<(OsString, OsString)>,
    env_read: bool,
}

/// An `execve`/`execveat` attempt.
#[derive(Debug, Clone)]
pub struct ExecEvent {
    /// The image that asked: the program running in the process before the exec.
    pub image: usize,
    /// The program's path, absolute, as given (relative to the `dirfd` or working folder).
    pub path: PathBuf,
    /// The path as the call was given it.
    pub given: OsString,
    /// `argv[0]`, the name the program is started under.
    pub argv0: Option<OsString>,
}

/// What the supervisor recorded.
#[derive(Debug, Default)]
pub struct SyscallLog {
    pub images: Vec<Image>,
    /// Read-only opens, `(image, absolute path)`, once each; paths below `/proc`, `/sys`,
    /// `/dev` and shenzi's scratch folder are left out.
    pub opens: Vec<(usize, PathBuf)>,
    pub execs: Vec<ExecEvent>,
    /// Whether the filter needed `PR_SET_NO_NEW_PRIVS` (no `CAP_SYS_ADMIN`).
    pub no_new_privs: bool,
    /// Notifications that could not be recorded (the caller is not dumpable, or its
    /// memory could not be read).
    pub unreadable: u64,
    /// Processes still running when recording stopped: `(pid, current image)`.
    pub running: Vec<(u32, usize)>,
}

/// A filter that was proven installable here, ready to be put into the command.
pub struct Armed {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    no_new_privs: bool,
    parent_end: OwnedFd,
    child_end: Option<OwnedFd>,
}

/// The running supervisor.
pub struct Supervisor {
    thread: std::thread::JoinHandle<Result<Finished, String>>,
    stop: OwnedFd,
}

struct Finished {
    log: SyscallLog,
    /// The listener, when traced processes may still be using it.
    listener: Option<OwnedFd>,
}

/// What to leave out while recording, and how the tracer asks to be left out.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Opens below this folder are shenzi's own (the tracer, the records).
    pub scratch: PathBuf,
    /// An open of this path (it need not exist) by a process means: what this process
    /// opens from now until its next exec is the tracer's own work, not the app's.
    pub quiet_marker: PathBuf,
}

/// Checks that the mechanism works here, by installing the filter in a short-lived thread
/// of shenzi (the thread ends, nothing else of shenzi is filtered). The error says why
/// not, in words for the one-line note.
pub fn arm() -> Result<Armed, String> {
    if let Some(value) = std::env::var_os(DISABLE_VAR) {
        if value == "0" {
            return Err(format!("`{DISABLE_VAR}=0`"));
        }
    }
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return Err(format!(
            "system-call tracing is not built for {}",
            std::env::consts::ARCH
        ));
    }
    check_kernel()?;
    let program = filter();
    let probe = program.clone();
    let (flags, no_new_privs) = std::thread::spawn(move || probe_install(&probe))
        .join()
        .map_err(|_| "the seccomp probe failed".to_owned())??;
    let (parent_end, child_end) = socket_pair()
        .map_err(|e| format!("cannot create a socket for the seccomp listener: {e}"))?;
    Ok(Armed {
        program,
        flags,
        no_new_privs,
        parent_end,
        child_end: Some(child_end),
    })
}

/// Kernel 5.8 or later: user notification with `CONTINUE` (5.5) and `POLLHUP` on a listener
/// nobody uses any more (5.8), which tells the supervisor when every process has ended.
fn check_kernel() -> Result<(), String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version < (5, 8) {
        return Err(format!(
            "kernel {} is older than 5.8, which system-call tracing needs",
            release.trim()
        ));
    }
    Ok(())
}

/// Installs the filter in the calling thread; returns the flags and whether
/// `no_new_privs` was needed. Only called in a thread of its own, which then ends.
fn probe_install(program: &[libc::sock_filter]) -> Result<(libc::c_ulong, bool), String> {
    let mut no_new_privs = false;
    loop {
        for flags in [
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ] {
            // SAFETY: `program` outlives the call; the kernel copies the filter.
            match unsafe { install(program, flags) } {
                Ok(listener) => {
                    drop(listener);
                    return Ok((flags, no_new_privs));
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EACCES) && !no_new_privs => break,
                Err(e) => {
                    return Err(format!("seccomp user notification is unavailable: {e}"));
                }
            }
        }
        if no_new_privs {
            return Err("seccomp user notification is unavailable on this kernel".into());
        }
        // SAFETY: sets a flag of this thread only; the thread ends after the probe.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!(
                "cannot set `no_new_privs`: {}",
                std::io::Error::last_os_error()
            ));
        }
        no_new_privs = true;
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, program)`: the listener fd.
///
/// # Safety
/// Async-signal-safe (it runs between `fork` and `exec`): one system call, no allocation.
unsafe fn install(program: &[libc::sock_filter], flags: libc::c_ulong) -> std::io::Result<OwnedFd> {
    let prog = libc::sock_fprog {
        // The filter has a few dozen instructions: it fits.
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, alive for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// The BPF program: notify for read-only `open`/`openat`, every `openat2` (its flags are
/// behind a pointer) and every `execve`/`execveat`; let everything else through.
fn filter() -> Vec<libc::sock_filter> {
    #[derive(Clone, Copy)]
    enum To {
        Next,
        Allow,
        Notify,
        CheckArg1,
        CheckArg2,
    }
    enum Op {
        Load(u32),
        JumpEq(u32, To, To),
        JumpGe(u32, To, To),
        JumpSet(u32, To, To),
        Label(To),
        Ret(u32),
    }
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    // The low 32 bits of argument `i` (both architectures are little-endian).
    const fn arg(i: u32) -> u32 {
        16 + 8 * i
    }
    let sys = |nr: libc::c_long| nr as u32;
    let mut ops = vec![
        Op::Load(ARCH),
        Op::JumpEq(AUDIT_ARCH, To::Next, To::Allow),
        Op::Load(NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // x32 system calls share the architecture and set this bit: let them through.
        ops.push(Op::JumpGe(0x4000_0000, To::Allow, To::Next));
        ops.push(Op::JumpEq(sys(libc::SYS_open), To::CheckArg1, To::Next));
    }
    ops.extend([
        Op::JumpEq(sys(libc::SYS_openat), To::CheckArg2, To::Next),
        Op::JumpEq(sys(libc::SYS_openat2), To::Notify, To::Next),
        Op::JumpEq(sys(libc::SYS_execve), To::Notify, To::Next),
        Op::JumpEq(sys(libc::SYS_execveat), To::Notify, To::Allow),
        Op::Label(To::CheckArg1),
        Op::Load(arg(1)),
        Op::JumpSet(NOT_A_READ, To::Allow, To::Notify),
        Op::Label(To::CheckArg2),
        Op::Load(arg(2)),
        Op::JumpSet(NOT_A_READ, To::Allow, To::Notify),
        Op::Label(To::Notify),
        Op::Ret(libc::SECCOMP_RET_USER_NOTIF),
        Op::Label(To::Allow),
        Op::Ret(libc::SECCOMP_RET_ALLOW),
    ]);
    // Two passes: where each label lands, then the instructions with forward offsets.
    let mut at = HashMap::new();
    let mut index = 0usize;
    for op in &ops {
        match op {
            Op::Label(to) => {
                at.insert(*to as u8, index);
            }
            _ => index += 1,
        }
    }
    let mut out = Vec::new();
    let offset = |from: usize, to: To| -> u8 {
        match to {
            To::Next => 0,
            // Every target is a later instruction and the program is short: it fits.
            _ => (at[&(to as u8)] - from - 1) as u8,
        }
    };
    for op in &ops {
        let here = out.len();
        let jump = |code: u32, k: u32, t: To, f: To| libc::sock_filter {
            code: (libc::BPF_JMP | code | libc::BPF_K) as u16,
            jt: offset(here, t),
            jf: offset(here, f),
            k,
        };
        out.push(match *op {
            Op::Label(_) => continue,
            Op::Load(offset) => libc::sock_filter {
                code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
                jt: 0,
                jf: 0,
                k: offset,
            },
            Op::JumpEq(k, t, f) => jump(libc::BPF_JEQ, k, t, f),
            Op::JumpGe(k, t, f) => jump(libc::BPF_JGE, k, t, f),
            Op::JumpSet(k, t, f) => jump(libc::BPF_JSET, k, t, f),
            Op::Ret(k) => libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k,
            },
        });
    }
    out
}

/// What the child sends with the listener: its pid, and the error if the filter did not
/// install after all.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Hello {
    pid: u32,
    errno: i32,
}

impl Armed {
    /// Makes `cmd` install the filter in the child just before it executes the program,
    /// and send the listener to shenzi. Installing never fails the spawn: if it fails,
    /// the child says so and runs untraced at this level.
    pub fn prepare(&mut self, cmd: &mut std::process::Command) {
        let program = self.program.clone();
        let flags = self.flags;
        let no_new_privs = self.no_new_privs;
        // Owned by the hook from here: closed in shenzi when the command is dropped.
        let child_end = self.child_end.take();
        let hook = move || {
            if let Some(sock) = &child_end {
                // SAFETY: runs in the child between fork and exec; `child_setup` makes
                // async-signal-safe system calls only and allocates nothing.
                unsafe { child_setup(&program, flags, no_new_privs, sock.as_raw_fd()) };
            }
            Ok(())
        };
        // SAFETY: the hook is async-signal-safe (see `child_setup`).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, hook);
        }
    }

    /// Starts the supervisor thread. Call after `prepare` and before spawning: the
    /// child's `exec` of the command is the first notified call.
    pub fn start(self, settings: Settings) -> Result<Supervisor, String> {
        let (stop_read, stop_write) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
        let Armed {
            parent_end,
            no_new_privs,
            ..
        } = self;
        let thread = std::thread::Builder::new()
            .name("shenzi-seccomp".into())
            .spawn(move || supervise(parent_end, stop_read, settings, no_new_privs))
            .map_err(|e| format!("cannot start the supervisor thread: {e}"))?;
        Ok(Supervisor {
            thread,
            stop: stop_write,
        })
    }
}

/// In the child: `no_new_privs` if needed, the filter, the listener sent to shenzi.
///
/// # Safety
/// Async-signal-safe: system calls on stack data and on `program`, which was allocated
/// before the fork.
unsafe fn child_setup(
    program: &[libc::sock_filter],
    flags: libc::c_ulong,
    no_new_privs: bool,
    sock: RawFd,
) {
    let mut hello = Hello {
        // SAFETY: getpid has no preconditions.
        pid: unsafe { libc::getpid() } as u32,
        errno: 0,
    };
    // SAFETY: a flag of this process, which is about to exec the traced command.
    if no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        hello.errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM);
        // SAFETY: sends stack data.
        unsafe { send_hello(sock, &hello, None) };
        return;
    }
    // SAFETY: `program` is alive; see `install`.
    match unsafe { install(program, flags) } {
        Ok(listener) => {
            // SAFETY: sends stack data and one descriptor.
            unsafe { send_hello(sock, &hello, Some(listener.as_raw_fd())) };
            // Closed here: the app must not inherit the listener.
            drop(listener);
        }
        Err(e) => {
            hello.errno = e.raw_os_error().unwrap_or(libc::EPERM);
            // SAFETY: sends stack data.
            unsafe { send_hello(sock, &hello, None) };
        }
    }
}

/// Sends `hello`, with `fd` attached as `SCM_RIGHTS` when given.
///
/// # Safety
/// Async-signal-safe: builds the message on the stack.
unsafe fn send_hello(sock: RawFd, hello: &Hello, fd: Option<RawFd>) {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut iov = libc::iovec {
        iov_base: (hello as *const Hello).cast_mut().cast(),
        iov_len: std::mem::size_of::<Hello>(),
    };
    // SAFETY: msghdr is plain data; zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE of one int is 24 bytes here, within `control`; the header is
        // written inside the buffer, which is aligned for `cmsghdr`.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: `msg` points at live stack data.
    unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
}

/// Receives the child's hello: `(pid, listener)`, or why there is none.
fn receive_hello(sock: &OwnedFd) -> Result<(u32, OwnedFd), String> {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut hello = Hello::default();
    let mut iov = libc::iovec {
        iov_base: (&mut hello as *mut Hello).cast(),
        iov_len: std::mem::size_of::<Hello>(),
    };
    // SAFETY: msghdr is plain data; zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    let n = loop {
        // SAFETY: `msg` points at live buffers of the sizes it states.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    if n != std::mem::size_of::<Hello>() as isize {
        return Err("the traced program did not start".into());
    }
    // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR checks the length it wrote.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if hello.errno != 0 || cmsg.is_null() {
        return Err(format!(
            "seccomp user notification is unavailable: {}",
            std::io::Error::from_raw_os_error(hello.errno)
        ));
    }
    // SAFETY: a SCM_RIGHTS message with one descriptor, which is now ours.
    let fd = unsafe {
        if (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err("the traced program sent no seccomp listener".into());
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>())
    };
    // SAFETY: received descriptor, owned by nothing else.
    Ok((hello.pid, unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

impl Supervisor {
    /// Stops recording and returns the log. Traced processes still running keep being
    /// answered by a detached helper until they end (see the module docs).
    pub fn finish(self) -> Result<SyscallLog, String> {
        drop(self.stop);
        let finished = self
            .thread
            .join()
            .map_err(|_| "the system-call supervisor failed".to_owned())??;
        if let Some(listener) = finished.listener {
            hand_off(listener);
        }
        Ok(finished.log)
    }
}

/// A notification buffer of the size the kernel uses (it may be larger than ours).
struct NotifBuffer {
    words: Vec<u64>,
}

impl NotifBuffer {
    fn new() -> Self {
        let mut sizes = libc::seccomp_notif_sizes {
            seccomp_notif: 0,
            seccomp_notif_resp: 0,
            seccomp_data: 0,
        };
        // SAFETY: the kernel writes the three sizes into `sizes`.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_GET_NOTIF_SIZES,
                0,
                &mut sizes as *mut libc::seccomp_notif_sizes,
            )
        };
        let bytes = (sizes.seccomp_notif as usize)
            .max(sizes.seccomp_notif_resp as usize)
            .max(std::mem::size_of::<libc::seccomp_notif>())
            .max(std::mem::size_of::<libc::seccomp_notif_resp>());
        NotifBuffer {
            words: vec![0; bytes.div_ceil(8)],
        }
    }

    /// Receives one notification; None when it is gone (the caller died) or on error.
    fn receive(&mut self, listener: RawFd) -> Option<libc::seccomp_notif> {
        self.words.fill(0);
        // SAFETY: the buffer is zeroed (the kernel requires it) and at least as large as
        // the kernel's `seccomp_notif`.
        let rc = unsafe {
            libc::ioctl(
                listener,
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                self.words.as_mut_ptr(),
            )
        };
        // SAFETY: the buffer holds a `seccomp_notif` written by the kernel, and u64
        // alignment suits it.
        (rc == 0).then(|| unsafe { std::ptr::read(self.words.as_ptr().cast()) })
    }

    /// Lets the notified call run as it would have untraced.
    fn continue_call(&mut self, listener: RawFd, id: u64) {
        self.words.fill(0);
        let resp = libc::seccomp_notif_resp {
            id,
            val: 0,
            error: 0,
            flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        };
        // SAFETY: the buffer is large and aligned enough for the response.
        unsafe {
            std::ptr::write(self.words.as_mut_ptr().cast(), resp);
            // ENOENT (the caller was killed meanwhile) needs nothing.
            libc::ioctl(
                listener,
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                self.words.as_mut_ptr(),
            );
        }
    }
}

fn supervise(
    sock: OwnedFd,
    stop: OwnedFd,
    settings: Settings,
    no_new_privs: bool,
) -> Result<Finished, String> {
    let (root_pid, listener) = receive_hello(&sock)?;
    drop(sock);
    let mut state = State::new(settings, root_pid);
    state.log.no_new_privs = no_new_privs;
    let mut buffer = NotifBuffer::new();
    // Kernel 6.6+: the caller hands its CPU straight to the supervisor and back (a
    // synchronous wake-up); measured 6% faster per notified call here, under load.
    // Older kernels refuse the flag; nothing else changes.
    const SYNC_WAKE_UP: u64 = 1;
    // SAFETY: the ioctl reads one u64 flag word.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SYNC_WAKE_UP,
        );
    }
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a live array of two pollfd.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if rc < 0 || fds[1].revents != 0 {
            let in_use = !unused(&listener);
            return Ok(Finished {
                log: state.finish(in_use),
                listener: in_use.then_some(listener),
            });
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Some(notif) = buffer.receive(listener.as_raw_fd()) {
                // The call must be answered whatever happens while recording it: a bug
                // here may cost a record, never the app's call.
                let recorded =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.handle(&notif)));
                buffer.continue_call(listener.as_raw_fd(), notif.id);
                if recorded.is_err() {
                    state.log.unreadable += 1;
                }
            }
        } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            // Every process that had the filter has ended.
            return Ok(Finished {
                log: state.finish(false),
                listener: None,
            });
        }
    }
}

/// A process shenzi has seen, by thread group id.
struct Process {
    image: usize,
    /// A pidfd: readable once the process has ended, so that a recycled pid is not taken
    /// for the process that had it. None when the kernel gave none (too many open files).
    pidfd: Option<OwnedFd>,
    /// It called `exec` since shenzi last looked at its program.
    exec_pending: bool,
    /// The tracer asked that what it opens now not be recorded.
    quiet: bool,
}

struct State {
    settings: Settings,
    root_pid: u32,
    own_pid: u32,
    own_exe: PathBuf,
    log: SyscallLog,
    /// Thread id to thread group id.
    tasks: HashMap<u32, u32>,
    processes: HashMap<u32, Process>,
    seen: HashSet<(usize, PathBuf)>,
    /// Live pidfds after the last sweep of ended processes.
    swept_at: usize,
    buf: Vec<u8>,
}

impl State {
    fn new(settings: Settings, root_pid: u32) -> Self {
        State {
            settings,
            root_pid,
            own_pid: std::process::id(),
            own_exe: std::fs::read_link("/proc/self/exe").unwrap_or_default(),
            log: SyscallLog::default(),
            tasks: HashMap::new(),
            processes: HashMap::new(),
            seen: HashSet::new(),
            swept_at: 0,
            buf: Vec::with_capacity(PATH_MAX),
        }
    }

    /// The log; `listener_in_use` when processes may still run under the filter.
    fn finish(mut self, listener_in_use: bool) -> SyscallLog {
        // A pidfd of a process in the middle of ending may not say so yet when the
        // listener reports that nobody uses it: then nothing runs, whatever pidfds say.
        if listener_in_use {
            let mut running: Vec<(u32, usize)> = self
                .processes
                .iter()
                .filter(|(_, p)| p.pidfd.as_ref().is_some_and(|fd| !ended(fd)))
                .map(|(pid, p)| (*pid, p.image))
                .collect();
            running.sort();
            self.log.running = running;
        }
        self.log
    }

    fn handle(&mut self, notif: &libc::seccomp_notif) {
        let tid = notif.pid;
        let a = notif.data.args;
        let nr = libc::c_long::from(notif.data.nr);
        #[cfg(target_arch = "x86_64")]
        if nr == libc::SYS_open {
            return self.open(tid, libc::AT_FDCWD, a[0], a[1]);
        }
        match nr {
            libc::SYS_openat => self.open(tid, a[0] as i32, a[1], a[2]),
            libc::SYS_openat2 => {
                // `struct open_how` starts with the u64 flags.
                let mut flags = [0u8; 8];
                if read_memory(tid, a[2], &mut flags) == 8 {
                    self.open(tid, a[0] as i32, a[1], u64::from_ne_bytes(flags));
                }
            }
            libc::SYS_execve => self.exec(tid, libc::AT_FDCWD, a[0], a[1], 0),
            libc::SYS_execveat => self.exec(tid, a[0] as i32, a[1], a[2], a[4]),
            _ => {}
        }
    }

    fn open(&mut self, tid: u32, dirfd: i32, path_at: u64, flags: u64) {
        if flags as u32 & NOT_A_READ != 0 {
            return;
        }
        let Some(given) = self.read_path(tid, path_at) else {
            return;
        };
        if given.is_empty() {
            return;
        }
        let Some(path) = resolve(tid, dirfd, &given) else {
            return;
        };
        let Some(tgid) = self.process(tid) else {
            return;
        };
        // The process was just looked up or created.
        let process = self.processes.get_mut(&tgid).expect("process entry");
        if path == self.settings.quiet_marker {
            process.quiet = true;
            return;
        }
        if process.quiet || ignored(&path, &self.settings.scratch) {
            return;
        }
        let image = process.image;
        if !self.log.images[image].env_read {
            self.log.images[image].env = path_environment(tid);
            self.log.images[image].env_read = true;
        }
        let key = (image, path);
        if !self.seen.contains(&key) {
            self.seen.insert(key.clone());
            self.log.opens.push(key);
        }
    }

    fn exec(&mut self, tid: u32, dirfd: i32, path_at: u64, argv_at: u64, flags: u64) {
        let Some(given) = self.read_path(tid, path_at) else {
            return;
        };
        let path = if given.is_empty() && flags & libc::AT_EMPTY_PATH as u64 != 0 {
            fd_path(tid, dirfd)
        } else {
            resolve(tid, dirfd, &given)
        };
        let mut pointer = [0u8; 8];
        let argv0 = (read_memory(tid, argv_at, &mut pointer) == 8)
            .then(|| u64::from_ne_bytes(pointer))
            .filter(|&p| p != 0)
            .and_then(|p| self.read_path(tid, p));
        let Some(tgid) = self.process(tid) else {
            return;
        };
        let process = self.processes.get_mut(&tgid).expect("process entry");
        process.exec_pending = true;
        process.quiet = false;
        let image = process.image;
        if tid != tgid {
            // After the exec this thread carries the process id; its own id is gone.
            self.tasks.remove(&tid);
        }
        if let Some(path) = path {
            self.log.execs.push(ExecEvent {
                image,
                path,
                given,
                argv0,
            });
        }
    }

    fn read_path(&mut self, tid: u32, at: u64) -> Option<OsString> {
        let read = read_c_string(tid, at, &mut self.buf);
        if read.is_none() {
            self.log.unreadable += 1;
        }
        read
    }

    /// The thread group of `tid`, with its current image; creates both on first sight.
    fn process(&mut self, tid: u32) -> Option<u32> {
        let known = self.tasks.get(&tid).copied().filter(|tgid| {
            self.processes
                .get(tgid)
                .is_some_and(|p| !p.pidfd.as_ref().is_some_and(ended))
        });
        let tgid = match known {
            Some(tgid) => tgid,
            None => {
                let (tgid, ppid) = read_status(tid)?;
                self.tasks.insert(tid, tgid);
                let alive = self
                    .processes
                    .get(&tgid)
                    .is_some_and(|p| !p.pidfd.as_ref().is_some_and(ended));
                if !alive {
                    let parent = self.image_of_parent(ppid, 0);
                    self.new_process(tgid, tid, parent);
                }
                tgid
            }
        };
        let process = self.processes.get_mut(&tgid)?;
        if process.exec_pending {
            process.exec_pending = false;
            let exe = std::fs::read_link(format!("/proc/{tid}/exe")).unwrap_or_default();
            let current = process.image;
            // A failed exec (a `PATH` probe) leaves the program as it was.
            if self.log.images[current].exe != exe {
                let image = self.push_image(tgid, exe, Some(current));
                // Looked up just above.
                self.processes.get_mut(&tgid).expect("process entry").image = image;
            }
        }
        Some(tgid)
    }

    /// The current image of process `pid`, creating it from `/proc` when shenzi has not
    /// seen it yet (a process that forked before making any notified call).
    fn image_of_parent(&mut self, pid: u32, depth: u32) -> Option<usize> {
        if pid <= 1 || pid == self.own_pid || depth > 16 {
            return None;
        }
        if let Some(p) = self.processes.get(&pid) {
            if !p.pidfd.as_ref().is_some_and(ended) {
                return Some(p.image);
            }
        }
        let (tgid, ppid) = read_status(pid)?;
        if tgid != pid {
            return None;
        }
        let parent = self.image_of_parent(ppid, depth + 1);
        Some(self.new_process(pid, pid, parent))
    }

    fn new_process(&mut self, tgid: u32, tid: u32, parent: Option<usize>) -> usize {
        let exe = std::fs::read_link(format!("/proc/{tid}/exe")).unwrap_or_default();
        let image = self.push_image(tgid, exe, parent);
        self.sweep();
        self.processes.insert(
            tgid,
            Process {
                image,
                pidfd: pidfd_open(tgid),
                exec_pending: false,
                quiet: false,
            },
        );
        image
    }

    fn push_image(&mut self, tgid: u32, exe: PathBuf, parent: Option<usize>) -> usize {
        let launcher = tgid == self.root_pid && parent.is_none() && exe == self.own_exe;
        self.log.images.push(Image {
            tgid,
            exe,
            parent,
            launcher,
            env: Vec::new(),
            env_read: false,
        });
        self.log.images.len() - 1
    }

    /// Forgets ended processes once the table has doubled, so pidfds do not pile up.
    fn sweep(&mut self) {
        if self.processes.len() < 64 || self.processes.len() < 2 * self.swept_at {
            return;
        }
        self.processes
            .retain(|_, p| !p.pidfd.as_ref().is_some_and(ended));
        let live: HashSet<u32> = self.processes.keys().copied().collect();
        self.tasks.retain(|_, tgid| live.contains(tgid));
        self.swept_at = self.processes.len();
    }
}

/// Paths that are never data: the kernel's views and shenzi's own scratch folder.
fn ignored(path: &Path, scratch: &Path) -> bool {
    ["/proc", "/sys", "/dev"]
        .iter()
        .any(|root| path.starts_with(root))
        || path.starts_with(scratch)
}

/// Reads up to `out.len()` bytes of process `pid` at `at`; how many were read.
fn read_memory(pid: u32, at: u64, out: &mut [u8]) -> usize {
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: out.len(),
    };
    let remote = libc::iovec {
        iov_base: at as *mut libc::c_void,
        iov_len: out.len(),
    };
    // SAFETY: `local` describes `out`; the kernel checks the remote range.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    usize::try_from(n).unwrap_or(0)
}

/// A NUL-terminated string of process `pid` at `at`, read a page at a time so that the
/// read never runs into an unmapped page past its end.
fn read_c_string(pid: u32, at: u64, buf: &mut Vec<u8>) -> Option<OsString> {
    const PAGE: u64 = 4096; // every page size Linux uses is a multiple of it
    if at == 0 {
        return None;
    }
    buf.clear();
    let mut addr = at;
    while buf.len() < PATH_MAX {
        let want = ((PAGE - addr % PAGE) as usize).min(PATH_MAX - buf.len());
        let start = buf.len();
        buf.resize(start + want, 0);
        let got = read_memory(pid, addr, &mut buf[start..]);
        buf.truncate(start + got);
        if let Some(nul) = buf[start..].iter().position(|&b| b == 0) {
            buf.truncate(start + nul);
            return Some(OsString::from_vec(buf.clone()));
        }
        if got < want {
            return None;
        }
        addr += got as u64;
    }
    None
}

/// `given` made absolute against `dirfd` (or the working folder), lexically cleaned of
/// `.` and repeated slashes (`..` is kept: it may cross a symlink).
fn resolve(tid: u32, dirfd: i32, given: &OsStr) -> Option<PathBuf> {
    let given = Path::new(given);
    let joined = if given.is_absolute() {
        given.to_owned()
    } else if dirfd == libc::AT_FDCWD {
        link_target(&format!("/proc/{tid}/cwd"))?.join(given)
    } else {
        fd_path(tid, dirfd)?.join(given)
    };
    Some(
        joined
            .components()
            .filter(|c| *c != Component::CurDir)
            .collect(),
    )
}

fn fd_path(tid: u32, fd: i32) -> Option<PathBuf> {
    link_target(&format!("/proc/{tid}/fd/{fd}"))
}

/// A `/proc` link that names a file or folder (not a socket, pipe or deleted file).
fn link_target(link: &str) -> Option<PathBuf> {
    let target = std::fs::read_link(link).ok()?;
    let bytes = target.as_os_str().as_bytes();
    (bytes.starts_with(b"/") && !bytes.ends_with(b" (deleted)")).then_some(target)
}

/// `Tgid` and `PPid` of a thread.
fn read_status(tid: u32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    Some((field("Tgid:")?, field("PPid:")?))
}

/// The variables of a process's start-up environment whose value, or one `:`-separated
/// part of it, is an absolute path other than `/`.
fn path_environment(tid: u32) -> Vec<(OsString, OsString)> {
    let Ok(environ) = std::fs::read(format!("/proc/{tid}/environ")) else {
        return Vec::new();
    };
    environ
        .split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            let (name, value) = (&entry[..eq], &entry[eq + 1..]);
            has_path_part(value).then(|| {
                (
                    OsStr::from_bytes(name).to_owned(),
                    OsStr::from_bytes(value).to_owned(),
                )
            })
        })
        .collect()
}

/// True when `value` or one of its `:`-separated parts is an absolute path other than `/`.
pub fn has_path_part(value: &[u8]) -> bool {
    value
        .split(|&b| b == b':')
        .any(|part| part.len() > 1 && part[0] == b'/')
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; the result is a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a new descriptor owned by nothing else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the process behind a pidfd has ended.
fn ended(pidfd: &OwnedFd) -> bool {
    let mut fd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, no waiting.
    unsafe { libc::poll(&mut fd, 1, 0) > 0 && fd.revents & libc::POLLIN != 0 }
}

/// No process uses the filter any more, and no notification is waiting.
fn unused(listener: &OwnedFd) -> bool {
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, no waiting.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents & libc::POLLHUP != 0 && fd.revents & libc::POLLIN == 0
}

/// Leaves a detached process answering `CONTINUE` on `listener` until no process uses the
/// filter any more; returns at once when none does now.
fn hand_off(listener: OwnedFd) {
    if unused(&listener) {
        return;
    }
    let mut buffer = NotifBuffer::new();
    let raw = listener.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe system calls on memory allocated
    // before the fork (`buffer`), then `_exit`s; the parent just returns.
    unsafe {
        let pid = libc::fork();
        if pid != 0 {
            // The parent (or a failed fork: then the processes see ENOSYS, as they would
            // have without the helper).
            return;
        }
        libc::setsid();
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        // Hold nothing of shenzi's: a pipe reader waiting for shenzi's output must not
        // wait for this process.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for std_fd in 0..3 {
            libc::dup2(null, std_fd);
        }
        let keep = raw as libc::c_uint;
        if keep > 3 {
            libc::close_range(3, keep - 1, 0);
        }
        libc::close_range(keep + 1, libc::c_uint::MAX, 0);
        loop {
            let mut fd = libc::pollfd {
                fd: raw,
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&mut fd, 1, -1) < 0 {
                continue;
            }
            if fd.revents & libc::POLLIN != 0 {
                buffer.words.fill(0);
                if libc::ioctl(
                    raw,
                    libc::SECCOMP_IOCTL_NOTIF_RECV,
                    buffer.words.as_mut_ptr(),
                ) == 0
                {
                    let id = std::ptr::read(buffer.words.as_ptr().cast::<u64>());
                    buffer.continue_call(raw, id);
                }
            } else if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                libc::_exit(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_of_the_filter_lands_inside_it() {
        let program = filter();
        for (i, op) in program.iter().enumerate() {
            if op.code & libc::BPF_JMP as u16 != 0 && op.code & 0x07 == libc::BPF_JMP as u16 {
                assert!(i + 1 + (op.jt as usize) < program.len());
                assert!(i + 1 + (op.jf as usize) < program.len());
            }
        }
        let last = program.last().unwrap();
        assert_eq!(last.k, libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn path_parts() {
        for (value, expected) in [
            (&b"/usr/share/x"[..], true),
            (b"a:/b", true),
            (b"/", false),
            (b"relative:also", false),
            (b"", false),
            (b"::/:", false),
        ] {
            assert_eq!(has_path_part(value), expected, "{value:?}");
        }
    }
}
