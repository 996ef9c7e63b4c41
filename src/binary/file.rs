//! Opening the files shenzi reads (manifest entries, libraries, the manifest itself):
//! only regular files, never blocking on a FIFO, never reading a device, and saying
//! what stands at a path when it is not a file.

use std::fmt;
use std::fs::{File, FileType, Metadata};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// What kind of thing stands at a path (symlinks followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    Regular,
    Directory,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    /// A symbolic link itself (only seen without following links).
    Symlink,
}

impl FileKind {
    pub fn of(file_type: &FileType) -> FileKind {
        if file_type.is_file() {
            FileKind::Regular
        } else if file_type.is_dir() {
            FileKind::Directory
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_char_device() {
            FileKind::CharDevice
        } else if file_type.is_block_device() {
            FileKind::BlockDevice
        } else if file_type.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Symlink
        }
    }

    /// `a folder`, `a named pipe (FIFO)`, ...
    pub fn described(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a folder",
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Symlink => "a symbolic link",
        }
    }
}

/// Why a path that should name a regular file does not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotAFile {
    /// Nothing is there.
    Absent,
    /// A symbolic link to a target that does not exist.
    DanglingLink(PathBuf),
    /// Symbolic links that lead back to themselves (`ELOOP`).
    SymlinkLoop,
    /// Something other than a regular file: a folder, a FIFO, a device, a socket.
    Special(FileKind),
    /// It cannot be looked at (permission denied on a folder of its path, ...).
    Unreadable(String),
}

impl fmt::Display for NotAFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAFile::Absent => f.write_str("no longer exists"),
            NotAFile::DanglingLink(target) => write!(
                f,
                "is a symbolic link to `{}`, which does not exist",
                target.display()
            ),
            NotAFile::SymlinkLoop => f.write_str("is a symbolic link that loops back on itself"),
            NotAFile::Special(kind) => write!(f, "is {}, not a file", kind.described()),
            NotAFile::Unreadable(reason) => write!(f, "cannot be read: {reason}"),
        }
    }
}

impl NotAFile {
    /// The sentence every phase says about a manifest entry's path:
    /// `` `/dev/null` (a data file, in `data_files`) is a character device, not a file ``.
    pub fn about(&self, path: &Path, entry: &str) -> String {
        format!("`{}` ({entry}) {self}", path.display())
    }

    /// Whether nothing is there at all (rather than something that is not a file).
    pub fn is_absent(&self) -> bool {
        matches!(self, NotAFile::Absent | NotAFile::DanglingLink(_))
    }

    /// What to do about it, for a path a manifest entry names.
    pub fn help(&self) -> &'static str {
        match self {
            NotAFile::Absent | NotAFile::DanglingLink(_) => {
                "the environment changed since the trace; re-run `shenzi trace`"
            }
            NotAFile::SymlinkLoop => "fix or remove the link, then re-run `shenzi trace`",
            NotAFile::Special(FileKind::Directory) => {
                "a manifest entry names one file; re-run `shenzi trace`, or `exclude` the path in the layout"
            }
            NotAFile::Special(_) => {
                "shenzi ships only regular files and never reads a pipe or a device; `exclude` the path in the layout, or re-run `shenzi trace` if it was a file at trace time"
            }
            NotAFile::Unreadable(_) => "check the permissions of the file and of its folders",
        }
    }
}

/// `stat`s `path` (symlinks followed, nothing opened): its metadata when it is a
/// regular file, else what it is.
pub fn check_regular(path: &Path) -> Result<Metadata, NotAFile> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(meta),
        Ok(meta) => Err(NotAFile::Special(FileKind::of(&meta.file_type()))),
        Err(err) => Err(not_a_file(path, &err)),
    }
}

/// What an error opening or `stat`ing `path` says about it.
pub fn not_a_file(path: &Path, err: &std::io::Error) -> NotAFile {
    if err.raw_os_error() == Some(libc::ELOOP) {
        return NotAFile::SymlinkLoop;
    }
    if err.kind() == std::io::ErrorKind::NotFound {
        return match std::fs::read_link(path) {
            Ok(target) => NotAFile::DanglingLink(target),
            Err(_) => NotAFile::Absent,
        };
    }
    NotAFile::Unreadable(err.to_string())
}

/// Why [`open_file`] did not give a regular file.
#[derive(Debug)]
pub enum OpenError {
    /// Opening failed (absent, a link loop, permission denied, ...).
    Io(std::io::Error),
    /// It opened, and is not a regular file.
    Special(FileKind),
}

impl OpenError {
    /// What stands at `path`, as [`check_regular`] says it.
    pub fn not_a_file(&self, path: &Path) -> NotAFile {
        match self {
            OpenError::Io(err) => not_a_file(path, err),
            OpenError::Special(kind) => NotAFile::Special(*kind),
        }
    }
}

impl From<OpenError> for std::io::Error {
    fn from(err: OpenError) -> std::io::Error {
        match err {
            OpenError::Io(err) => err,
            OpenError::Special(kind) => std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("it is {}, not a regular file", kind.described()),
            ),
        }
    }
}

/// Opens `path` for reading if it is a regular file (symlinks followed). It is opened
/// with `O_NONBLOCK` and checked with `fstat` on the open file, so a FIFO put in its
/// place never blocks and a device is never read.
pub fn open_file(path: &Path) -> Result<(File, Metadata), OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::Special(FileKind::of(&meta.file_type())));
    }
    Ok((file, meta))
}

/// [`open_file`], with anything but a regular file an error of kind `InvalidInput`
/// that says what it is.
pub fn open_regular(path: &Path) -> std::io::Result<(File, Metadata)> {
    Ok(open_file(path)?)
}

/// A file's bytes, mapped when large enough to be worth it.
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

/// Maps `path` read-only (reads it when smaller than a page); only a regular file
/// ([`open_regular`]).
pub fn map_file(path: &Path) -> std::io::Result<FileBytes> {
    let (file, meta) = open_regular(path)?;
    map_open(file, meta.len())
}

/// Maps an open file of `len` bytes read-only (reads it when smaller than a page).
pub(super) fn map_open(mut file: File, len: u64) -> std::io::Result<FileBytes> {
    if len < 4096 {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        return Ok(FileBytes::Read(bytes));
    }
    // SAFETY: the map is read-only and lives only while its user parses it. A file
    // truncated by another process while mapped could fault; shenzi maps only files it
    // just opened for reading (installed libraries and interpreters), not files being
    // written.
    unsafe { memmap2::Mmap::map(&file) }.map(FileBytes::Mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_named_and_never_opened_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let loop_a = dir.path().join("a");
        std::os::unix::fs::symlink(dir.path().join("b"), &loop_a).unwrap();
        std::os::unix::fs::symlink(&loop_a, dir.path().join("b")).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();

        let cases: [(&Path, Result<(), NotAFile>); 7] = [
            (&fifo, Err(NotAFile::Special(FileKind::Fifo))),
            (
                Path::new("/dev/null"),
                Err(NotAFile::Special(FileKind::CharDevice)),
            ),
            (dir.path(), Err(NotAFile::Special(FileKind::Directory))),
            (&loop_a, Err(NotAFile::SymlinkLoop)),
            (&dangling, Err(NotAFile::DanglingLink("nowhere".into()))),
            (&dir.path().join("absent"), Err(NotAFile::Absent)),
            (&file, Ok(())),
        ];
        for (path, expected) in cases {
            assert_eq!(check_regular(path).map(|_| ()), expected, "{path:?}");
            // Opening agrees, and a FIFO with no writer does not block.
            let opened = open_regular(path);
            assert_eq!(opened.is_ok(), expected.is_ok(), "{path:?}");
            if let Err(err) = opened
                && let Err(NotAFile::Special(kind)) = expected
            {
                assert!(err.to_string().contains(kind.described()), "{err}");
            }
        }
    }
}
