//! Merging manifests: a set union, so that runs merged in any order give the same result.

use std::collections::BTreeMap;

use super::diagnostics::MergeError;
use super::{Executable, Manifest};

impl Manifest {
    /// Adds the records of `other` to this manifest.
    ///
    /// This manifest stays the primary one: its entry point, interpreter facts and
    /// environment are kept. Everything else is a set union keyed by identity, with the
    /// run ids of equal records joined, so the result does not depend on merge order.
    pub fn merge(mut self, other: Manifest) -> Result<Manifest, MergeError> {
        let version = |m: &Manifest| {
            let v = &m.python.version;
            format!("{}.{}.{}{}", v.major, v.minor, v.micro, v.abiflags)
        };
        if self.python.realpath != other.python.realpath
            || self.python.version != other.python.version
            || self.platform != other.platform
        {
            return Err(MergeError::DifferentInterpreter {
                existing: self.python.realpath.clone(),
                existing_version: version(&self),
                new: other.python.realpath.clone(),
                new_version: version(&other),
            });
        }
        self.runs = union_by(
            self.runs,
            other.runs,
            |r| r.id.clone(),
            |a, b| {
                // The same command traced twice: keep one record, chosen by value so the
                // result does not depend on which came first.
                if b < *a {
                    *a = b;
                }
            },
        );
        self.modules = union_by(
            self.modules,
            other.modules,
            |m| (m.name.clone(), m.kind, m.file.clone()),
            |a, b| join(&mut a.runs, b.runs),
        );
        self.native.objects = union_by(
            self.native.objects,
            other.native.objects,
            |o| o.path.clone(),
            |a, b| {
                join(&mut a.names, b.names);
                join(&mut a.runs, b.runs);
                a.kind = a.kind.min(b.kind);
                a.soname = a.soname.take().max(b.soname);
            },
        );
        self.native.loads = union_by(
            self.native.loads,
            other.native.loads,
            |l| (l.name.clone(), l.via, l.resolved.clone(), l.caller.clone()),
            |a, b| join(&mut a.runs, b.runs),
        );
        self.executables = union_by(
            self.executables,
            other.executables,
            Executable::key,
            |a, b| a.absorb(b),
        );
        self.data_files = union_by(
            self.data_files,
            other.data_files,
            |d| d.path.clone(),
            |a, b| join(&mut a.runs, b.runs),
        );
        self.scripts = union_by(
            self.scripts,
            other.scripts,
            |d| d.path.clone(),
            |a, b| join(&mut a.runs, b.runs),
        );
        self.native_data = union_by(
            self.native_data,
            other.native_data,
            |d| d.path.clone(),
            |a, b| {
                join(&mut a.opened_by, b.opened_by);
                a.audit |= b.audit;
                join(&mut a.runs, b.runs);
            },
        );
        self.native_env = union_by(
            self.native_env,
            other.native_env,
            |e| (e.program.clone(), e.name.clone(), e.value.clone()),
            |a, b| join(&mut a.runs, b.runs),
        );
        for (key, value) in other.env {
            self.env.entry(key).or_insert(value);
        }
        Ok(self)
    }
}

/// Union of two record lists by key, sorted by key; `absorb` folds an equal-keyed
/// record into the kept one and must be commutative for order independence.
fn union_by<T, K: Ord>(
    a: Vec<T>,
    b: Vec<T>,
    key: impl Fn(&T) -> K,
    absorb: impl Fn(&mut T, T),
) -> Vec<T> {
    let mut map: BTreeMap<K, T> = BTreeMap::new();
    for item in a.into_iter().chain(b) {
        match map.entry(key(&item)) {
            std::collections::btree_map::Entry::Occupied(mut slot) => absorb(slot.get_mut(), item),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(item);
            }
        }
    }
    map.into_values().collect()
}

impl Executable {
    /// One entry per program: by real path; a program that was not found, by name. Found
    /// programs sort first.
    pub fn key(&self) -> (bool, Option<std::path::PathBuf>, String) {
        match &self.path {
            Some(path) => (false, Some(path.clone()), String::new()),
            None => (true, None, self.name.clone()),
        }
    }

    /// Folds another record of the same program into this one (commutative).
    pub fn absorb(&mut self, other: Executable) {
        // Manifests written before `started_by` existed say it in `via` alone.
        let mut started_by = self.ways();
        started_by.extend(other.ways());
        started_by.sort();
        started_by.dedup();
        self.started_by = started_by;
        // The name Python asked by wins; between equals, the smaller.
        self.name = match (self.via.is_python(), other.via.is_python()) {
            (true, false) => std::mem::take(&mut self.name),
            (false, true) => other.name,
            _ => std::mem::take(&mut self.name).min(other.name),
        };
        self.via = self.via.min(other.via);
        self.is_python |= other.is_python;
        join(&mut self.names, other.names);
        join(&mut self.parents, other.parents);
        self.interpreter = self.interpreter.take().max(other.interpreter);
        join(&mut self.runs, other.runs);
    }

    fn ways(&self) -> Vec<super::ExecVia> {
        match self.started_by.is_empty() {
            true => vec![self.via],
            false => self.started_by.clone(),
        }
    }
}

/// Sorted, deduplicated union of two lists.
fn join<T: Ord>(into: &mut Vec<T>, more: Vec<T>) {
    into.extend(more);
    into.sort();
    into.dedup();
}
