//! A simulated process: what the loader maps at start-up and on each `dlopen`, object by
//! object, in the loader's breadth-first order, with the rule behind every load.
//!
//! The farm graph is built from these events, and `verify` can replay a finished dist
//! through the same code with a target's [`SearchConfig`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FileSystem, Found, Loaded, Opened, Request, Resolution, SearchConfig, resolve};
use crate::binary::Probe;

/// One load: object `from` asked for `name`, and the loader answered.
#[derive(Debug, Clone)]
pub struct Event {
    /// The index (in [`Process::objects`]) of the object whose need this is, or of the
    /// `dlopen` caller; `None` for the main executable itself.
    pub from: Option<usize>,
    pub name: String,
    pub resolution: Resolution,
    /// The object that serves the need, when one does.
    pub index: Option<usize>,
    /// Whether the object was newly loaded by this event (not reused).
    pub fresh: bool,
    /// Whether this is an `LD_PRELOAD` entry (then `from` is the executable, which
    /// only lends its search path).
    pub preload: bool,
}

/// How a process starts.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    /// The executable, as the kernel opened it (its real path gives `$ORIGIN`).
    pub exe: &'a Path,
    /// The program interpreter, when not the executable's `PT_INTERP`.
    pub interp: Option<&'a Path>,
    /// `LD_LIBRARY_PATH` entries.
    pub library_path: Vec<String>,
    /// `LD_PRELOAD` entries, in order (see [`split_preload`]).
    pub preload: Vec<String>,
}

/// Splits an `LD_PRELOAD` value as glibc does: on spaces and colons.
pub fn split_preload(value: &str) -> Vec<String> {
    value
        .split([' ', ':'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One object in the process.
#[derive(Debug, Clone)]
pub struct Object {
    pub loaded: Loaded,
    /// Its headers, when it is an object shenzi has read (not for the program
    /// interpreter when it could not be read).
    pub opened: Option<Arc<Opened>>,
    /// Its loader chain (`l_loader`), nearest first, as indices.
    pub chain: Vec<usize>,
}

/// The objects of one simulated process.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub objects: Vec<Object>,
    /// The index of the main executable.
    pub main: Option<usize>,
    /// `LD_LIBRARY_PATH` entries.
    pub library_path: Vec<String>,
}

impl Process {
    /// The loader's start-up: the program interpreter (`interp`, else the executable's
    /// `PT_INTERP`) is loaded first, then the executable opened as `exe` (which gives its
    /// `$ORIGIN`: pass a real path for an executable, as the kernel does), then its needs
    /// breadth-first. Returns the process and every load event, the executable's own
    /// first (`from: None`).
    pub fn start<F: FileSystem + ?Sized>(
        fs: &F,
        config: &SearchConfig,
        exe: &Path,
        interp: Option<&Path>,
        library_path: Vec<String>,
    ) -> (Process, Vec<Event>) {
        Process::start_where(fs, config, exe, interp, library_path, &|_| true)
    }

    /// [`Process::start`] that does not follow the needs of objects `follow` rejects.
    pub fn start_where<F: FileSystem + ?Sized>(
        fs: &F,
        config: &SearchConfig,
        exe: &Path,
        interp: Option<&Path>,
        library_path: Vec<String>,
        follow: &dyn Fn(&Opened) -> bool,
    ) -> (Process, Vec<Event>) {
        let start = Start {
            exe,
            interp,
            library_path,
            preload: Vec::new(),
        };
        Process::launch(fs, config, &start, follow)
    }

    /// The loader's start-up as [`Process::start`] describes it, with `LD_PRELOAD`:
    /// preloaded objects are loaded right after the executable (searched as the
    /// executable's needs are), and their needs are followed after the executable's,
    /// as `_dl_map_object_deps` does with its preload list.
    pub fn launch<F: FileSystem + ?Sized>(
        fs: &F,
        config: &SearchConfig,
        start: &Start<'_>,
        follow: &dyn Fn(&Opened) -> bool,
    ) -> (Process, Vec<Event>) {
        let (exe, interp) = (start.exe, start.interp);
        let mut process = Process {
            library_path: start.library_path.clone(),
            ..Process::default()
        };
        let mut events = Vec::new();
        let exe_binary = match fs.probe(exe) {
            Probe::File(b) => Some(b),
            Probe::Missing | Probe::NotAFile(_) => None,
        };
        let exe_info = exe_binary.as_ref().and_then(|b| b.elf().cloned());
        let interp = interp
            .map(Path::to_path_buf)
            .or_else(|| exe_info.as_ref()?.interp.as_ref().map(PathBuf::from));
        if let Some(interp) = interp {
            let (id, opened) = match fs.probe(&interp) {
                Probe::File(b) => (
                    Some(b.id),
                    b.elf().map(|info| {
                        Arc::new(Opened {
                            path: interp.clone(),
                            info: info.clone(),
                        })
                    }),
                ),
                Probe::Missing | Probe::NotAFile(_) => (None, None),
            };
            process.objects.push(Object {
                loaded: Loaded {
                    path: interp,
                    names: Vec::new(),
                    soname: opened.as_ref().and_then(|o| o.info.soname.clone()),
                    id,
                },
                opened,
                chain: Vec::new(),
            });
        }
        let (Some(binary), Some(info)) = (exe_binary, exe_info) else {
            events.push(Event {
                from: None,
                name: exe.to_string_lossy().into_owned(),
                resolution: Resolution {
                    found: None,
                    unusable: None,
                    searched: Vec::new(),
                },
                index: None,
                fresh: false,
                preload: false,
            });
            return (process, events);
        };
        let opened = Arc::new(Opened {
            path: exe.to_owned(),
            info: info.clone(),
        });
        let index = process.objects.len();
        process.objects.push(Object {
            loaded: Loaded {
                path: exe.to_owned(),
                names: Vec::new(),
                soname: info.soname.clone(),
                id: Some(binary.id),
            },
            opened: Some(opened),
            chain: Vec::new(),
        });
        process.main = Some(index);
        events.push(Event {
            from: None,
            name: exe.to_string_lossy().into_owned(),
            resolution: Resolution {
                found: Some(Found {
                    path: exe.to_owned(),
                    rule: super::Rule::Path,
                    binary: Some(binary),
                    reused: None,
                }),
                unusable: None,
                searched: Vec::new(),
            },
            index: Some(index),
            fresh: true,
            preload: false,
        });
        let mut first = vec![index];
        for name in &start.preload {
            let fresh = process.load_one(fs, config, index, name, &mut events);
            if let Some(last) = events.last_mut() {
                last.preload = true;
            }
            first.extend(fresh);
        }
        process.load_needs_where(fs, config, first, &mut events, follow);
        (process, events)
    }

    /// `dlopen(name)` called from the object at index `caller` (its `DT_RUNPATH` and
    /// `DT_RPATH` chain serve the search, as in glibc). Returns the events: the request
    /// itself first, then the needs of what it loaded.
    pub fn dlopen<F: FileSystem + ?Sized>(
        &mut self,
        fs: &F,
        config: &SearchConfig,
        caller: usize,
        name: &str,
    ) -> Vec<Event> {
        self.dlopen_where(fs, config, caller, name, &|_| true)
    }

    /// The opened form of object `i`.
    pub fn opened(&self, i: usize) -> Option<&Arc<Opened>> {
        self.objects.get(i)?.opened.as_ref()
    }

    /// The index of the object opened by `path`.
    pub fn find(&self, path: &Path) -> Option<usize> {
        self.objects.iter().position(|o| o.loaded.path == path)
    }

    /// Resolves `name` for object `from`, records the event, and returns the index of
    /// a newly loaded object.
    fn load_one<F: FileSystem + ?Sized>(
        &mut self,
        fs: &F,
        config: &SearchConfig,
        from: usize,
        name: &str,
        events: &mut Vec<Event>,
    ) -> Option<usize> {
        let object = self.opened(from).cloned()?;
        let chain: Vec<&Opened> = self.objects[from]
            .chain
            .iter()
            .filter_map(|&i| self.opened(i).map(|a| a.as_ref()))
            .collect();
        let loaded: Vec<Loaded> = self.objects.iter().map(|o| o.loaded.clone()).collect();
        let main = self.main.and_then(|m| self.opened(m)).map(|a| a.as_ref());
        let request = Request {
            name,
            object: &object,
            chain: &chain,
            main,
            library_path: &self.library_path,
            loaded: &loaded,
        };
        let resolution = resolve(fs, config, &request);
        let mut event = Event {
            from: Some(from),
            name: name.to_owned(),
            resolution,
            index: None,
            fresh: false,
            preload: false,
        };
        let mut fresh = None;
        if let Some(found) = &event.resolution.found {
            if let Some(i) = found.reused {
                let names = &mut self.objects[i].loaded.names;
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
                event.index = Some(i);
            } else if let Some(binary) = &found.binary
                && let Some(info) = binary.elf()
            {
                let mut chain = vec![from];
                chain.extend(self.objects[from].chain.iter().copied());
                let i = self.objects.len();
                self.objects.push(Object {
                    loaded: Loaded {
                        path: found.path.clone(),
                        names: vec![name.to_owned()],
                        soname: info.soname.clone(),
                        id: Some(binary.id),
                    },
                    opened: Some(Arc::new(Opened {
                        path: found.path.clone(),
                        info: info.clone(),
                    })),
                    chain,
                });
                event.index = Some(i);
                event.fresh = true;
                fresh = Some(i);
            }
        }
        events.push(event);
        fresh
    }

    /// Loads the needs of `start` and of everything they load, breadth-first, as
    /// `_dl_map_object_deps` does, but only through objects `follow` accepts (the farm
    /// stops at libraries the target system provides).
    pub fn load_needs_where<F: FileSystem + ?Sized>(
        &mut self,
        fs: &F,
        config: &SearchConfig,
        start: Vec<usize>,
        events: &mut Vec<Event>,
        follow: &dyn Fn(&Opened) -> bool,
    ) {
        let mut queue: std::collections::VecDeque<usize> = start.into();
        while let Some(i) = queue.pop_front() {
            let Some(object) = self.opened(i).cloned() else {
                continue;
            };
            if !follow(&object) {
                continue;
            }
            for need in &object.info.needed {
                if let Some(fresh) = self.load_one(fs, config, i, need, events) {
                    queue.push_back(fresh);
                }
            }
        }
    }

    /// `dlopen` that stops at objects `follow` rejects.
    pub fn dlopen_where<F: FileSystem + ?Sized>(
        &mut self,
        fs: &F,
        config: &SearchConfig,
        caller: usize,
        name: &str,
        follow: &dyn Fn(&Opened) -> bool,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(fresh) = self.load_one(fs, config, caller, name, &mut events) else {
            return events;
        };
        self.load_needs_where(fs, config, vec![fresh], &mut events, follow);
        events
    }
}
