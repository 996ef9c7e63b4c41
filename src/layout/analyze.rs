//! The third phase: resolves names, parses templates, compiles globs and checks every
//! rule that needs no manifest. Produces a [`Layout`] only when nothing is wrong.

use std::collections::HashMap;

use globset::{GlobBuilder, GlobSet};

use super::diagnostics::{Diagnostic, ErrorKind};
use super::model::*;
use super::span::{Span, Spanned};
use super::suggest::nearest;
use super::syntax::*;
use super::template::{self, Part, parse_template};
use super::vars::{Context, KINDS, Kind, Var};
use crate::policy;

/// Analyzes a parsed layout. Diagnostics (warnings too) are pushed; the layout is
/// returned when none of them is an error.
pub fn analyze(ast: &Ast, diagnostics: &mut Vec<Diagnostic>) -> Option<Layout> {
    analyze_with(ast, diagnostics, true)
}

/// Analyzes; with `build` false only diagnoses (globs are checked, not compiled), for
/// a layout whose syntax errors already rule out using it.
pub(crate) fn analyze_with(
    ast: &Ast,
    diagnostics: &mut Vec<Diagnostic>,
    build: bool,
) -> Option<Layout> {
    let before = diagnostics.len();
    let mut a = Analyzer {
        diagnostics: Vec::new(),
        compiled: HashMap::new(),
        build,
    };
    let layout = a.layout(ast);
    let had_error = a.diagnostics.iter().any(Diagnostic::is_error);
    diagnostics.append(&mut a.diagnostics);
    debug_assert!(diagnostics.len() >= before);
    if had_error { None } else { layout }
}

struct Analyzer {
    diagnostics: Vec<Diagnostic>,
    /// Every distinct glob compiled once per layout, or why it did not compile.
    compiled: HashMap<String, Result<GlobSet, String>>,
    /// Whether to build the layout (compile its globs) when nothing is wrong.
    build: bool,
}

/// A statement that may be given once: its value and where it was first given.
struct Once<'a, T> {
    what: &'static str,
    first: Option<(Span, &'a T)>,
}

impl<'a, T> Once<'a, T> {
    fn new(what: &'static str) -> Self {
        Once { what, first: None }
    }

    fn set(&mut self, a: &mut Analyzer, span: Span, value: &'a T) {
        match self.first {
            Some((first, _)) => a.push(
                span,
                ErrorKind::RepeatedStatement {
                    what: format!("`{}`", self.what),
                    first,
                },
            ),
            None => self.first = Some((span, value)),
        }
    }

    fn get(&self) -> Option<&'a T> {
        self.first.map(|(_, v)| v)
    }
}

impl Analyzer {
    fn push(&mut self, span: Span, kind: ErrorKind) {
        self.diagnostics.push(Diagnostic::new(span, kind));
    }

    fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn layout(&mut self, ast: &Ast) -> Option<Layout> {
        let mut name = Once::new("layout");
        let mut system = Once::new("system");
        let mut launcher = Once::new("launcher");
        let mut conflicts = Once::new("conflicts");
        let mut unclaimed = Once::new("unclaimed");
        let mut strip = Once::new("strip");
        let mut output: Once<ItemNode> = Once::new("output");
        let mut ignore: Vec<&Str> = Vec::new();
        let mut farms: Vec<(&Item, &Word, &Block<FarmStmt>)> = Vec::new();
        let mut units: Vec<(&Item, &Word, &Block<UnitStmt>)> = Vec::new();
        for item in &ast.items {
            match &item.node {
                ItemNode::Layout(w) => name.set(self, item.keyword, w),
                ItemNode::System(b) => system.set(self, item.keyword, b),
                ItemNode::Launcher(b) => launcher.set(self, item.keyword, b),
                ItemNode::Conflicts(w) => conflicts.set(self, item.keyword, w),
                ItemNode::Unclaimed(w) => unclaimed.set(self, item.keyword, w),
                ItemNode::Strip(w) => strip.set(self, item.keyword, w),
                ItemNode::Output(..) => output.set(self, item.keyword, &item.node),
                ItemNode::Ignore(list) => ignore.extend(list),
                ItemNode::Farm(n, b) => farms.push((item, n, b)),
                ItemNode::Unit(n, b) => units.push((item, n, b)),
            }
        }

        let farm_ids = self.names(&farms, |name, first| ErrorKind::DuplicateFarm {
            name,
            first,
        });
        let unit_ids = self.names(&units, |name, first| ErrorKind::DuplicateUnit {
            name,
            first,
        });

        let system_policy = match system.first {
            Some((keyword, block)) => self.system(keyword, block),
            None => {
                let at = ast.items.first().map_or(Span::new(0, 0), |i| i.keyword);
                self.push(at, ErrorKind::MissingSystem);
                None
            }
        };

        let mut resolved_farms: Vec<Option<Farm>> = farms
            .iter()
            .map(|(item, name, block)| self.farm(item, name, block))
            .collect();
        self.farm_overlaps(&resolved_farms);

        let conflict_policy = match conflicts.get() {
            Some(w) => self
                .choice(w, "a conflict policy", ConflictPolicy::NAMES)
                .map(|i| {
                    let policy = [ConflictPolicy::AllowIdentical, ConflictPolicy::Deny][i];
                    Spanned::new(policy, w.span)
                }),
            None => Some(Spanned::new(
                ConflictPolicy::AllowIdentical,
                Span::default(),
            )),
        };
        let deny = conflict_policy
            .as_ref()
            .is_some_and(|p| p.value == ConflictPolicy::Deny);

        let resolved_units: Vec<Option<Unit>> = units
            .iter()
            .map(|(item, name, block)| self.unit(item, name, block, &farm_ids))
            .collect();
        self.claims(&resolved_units, deny);
        self.farm_intrusions(&resolved_units, &resolved_farms);

        for (unit_index, unit) in resolved_units.iter().enumerate() {
            if let Some(farm) = unit.as_ref().and_then(|u| u.farm.as_ref())
                && let Some(Some(f)) = resolved_farms.get_mut(farm.value.0)
            {
                f.members.push(UnitId(unit_index));
            }
        }
        for farm in resolved_farms.iter().flatten() {
            if farm.members.is_empty() {
                self.push(
                    farm.name.span,
                    ErrorKind::FarmUnused {
                        name: farm.name.value.clone(),
                    },
                );
            }
        }

        let resolved_launcher = match launcher.first {
            Some((keyword, block)) => self.launcher(keyword, block, &unit_ids, &resolved_units),
            None => {
                if !ast.items.is_empty() {
                    self.push(ast.items[0].keyword, ErrorKind::NoLauncher);
                }
                None
            }
        };

        let unclaimed_policy = match unclaimed.get() {
            Some(w) => self
                .choice(w, "an unclaimed-file policy", Unclaimed::NAMES)
                .map(|i| {
                    Spanned::new(
                        [Unclaimed::Warn, Unclaimed::Error, Unclaimed::Ignore][i],
                        w.span,
                    )
                }),
            None => Some(Spanned::new(Unclaimed::Warn, Span::default())),
        };
        let strip_value = match strip.get() {
            Some(w) => self
                .choice(w, "a strip choice", Strip::NAMES)
                .map(|i| Spanned::new([Strip::None, Strip::Debug][i], w.span)),
            None => Some(Spanned::new(Strip::None, Span::default())),
        };
        let ignore = self.globs(&ignore, None);
        let output_v = self.output(output.first, launcher.first.is_some());

        if self.errors() > 0 || !self.build {
            return None;
        }
        let mut layout = Layout {
            name: name.get().cloned(),
            system: system_policy?,
            farms: resolved_farms.into_iter().collect::<Option<Vec<_>>>()?,
            units: resolved_units.into_iter().collect::<Option<Vec<_>>>()?,
            launcher: resolved_launcher,
            output: output_v?,
            conflicts: conflict_policy?,
            unclaimed: unclaimed_policy?,
            strip: strip_value?,
            ignore: ignore?,
        };
        if let Err(err) = layout.system.compile() {
            let at = system.first.map_or(Span::default(), |(keyword, _)| keyword);
            self.push(
                at,
                ErrorKind::BadGlob {
                    message: format!("the system's globs together: {}", glob_message(&err)),
                },
            );
            return None;
        }
        Some(layout)
    }

    /// Checks names are unique; returns name -> index (first definition wins).
    fn names<B>(
        &mut self,
        defs: &[(&Item, &Word, B)],
        duplicate: fn(String, Span) -> ErrorKind,
    ) -> HashMap<String, usize> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, (_, name, _)) in defs.iter().enumerate() {
            match ids.get(&name.value) {
                Some(&first) => {
                    let kind = duplicate(name.value.clone(), defs[first].1.span);
                    self.push(name.span, kind);
                }
                None => {
                    ids.insert(name.value.clone(), i);
                }
            }
        }
        ids
    }

    /// Resolves a word against fixed choices; its index.
    /// `output folder | onefile ["NAME"]`; a onefile needs a launcher to start.
    fn output(
        &mut self,
        item: Option<(Span, &ItemNode)>,
        has_launcher: bool,
    ) -> Option<Spanned<Output>> {
        let Some((keyword, ItemNode::Output(w, name))) = item else {
            return Some(Spanned::new(Output::Folder, Span::default()));
        };
        let choice = self.choice(w, "an output", Output::NAMES)?;
        match (choice, name) {
            (0, None) => Some(Spanned::new(Output::Folder, w.span)),
            (0, Some(s)) => {
                self.push(s.span, ErrorKind::OutputArgument { output: "folder" });
                None
            }
            (_, name) => {
                if !has_launcher {
                    self.push(keyword.to(w.span), ErrorKind::OnefileWithoutLauncher);
                }
                let template = match name {
                    Some(s) => Some(parse_template(s, Context::Onefile, &mut self.diagnostics)?),
                    None => None,
                };
                Some(Spanned::new(Output::Onefile(template), w.span))
            }
        }
    }

    fn choice(
        &mut self,
        word: &Word,
        what: &'static str,
        choices: &'static [&'static str],
    ) -> Option<usize> {
        if let Some(i) = choices.iter().position(|c| *c == word.value) {
            return Some(i);
        }
        self.push(
            word.span,
            ErrorKind::UnknownChoice {
                what,
                word: word.value.clone(),
                choices,
                suggestion: nearest(&word.value, choices.iter().copied()),
            },
        );
        None
    }

    /// Compiles globs; `matched` says what unit globs are matched against (absolute
    /// patterns are then suspicious), `None` for `ignore`, which matches real paths.
    fn globs(&mut self, patterns: &[&Str], matched: Option<&'static str>) -> Option<Globs> {
        let sets: Vec<Option<GlobSet>> = patterns.iter().map(|s| self.glob(s, matched)).collect();
        assemble(patterns, sets)
    }

    /// Checks one glob against the limits and compiles it; every failure is a
    /// diagnostic on the glob's string.
    fn glob(&mut self, s: &Str, matched: Option<&'static str>) -> Option<GlobSet> {
        let value = s.value();
        if value.len() > GLOB_MAX_LEN {
            self.push(s.span, ErrorKind::GlobTooLong { len: value.len() });
            return None;
        }
        if let Some((at, depth)) = too_deep(s) {
            self.push(at, ErrorKind::GlobTooDeep { depth });
            return None;
        }
        self.text(s);
        if let Some(matched) = matched
            && value.starts_with('/')
        {
            self.push(s.span, ErrorKind::AbsoluteGlob { matched });
        }
        let compiled = match self.compiled.get(&value) {
            Some(done) => done.clone(),
            None => {
                let done = GlobBuilder::new(&value)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .and_then(policy::matcher)
                    .map_err(|err| glob_message(&err));
                self.compiled.insert(value, done.clone());
                done
            }
        };
        match compiled {
            Ok(set) => Some(set),
            Err(message) => {
                self.push(s.span, ErrorKind::BadGlob { message });
                None
            }
        }
    }

    /// Control characters in a string: never part of a path shenzi writes or matches.
    fn text(&mut self, s: &Str) {
        template::control_characters(s, &mut self.diagnostics);
    }

    fn system(&mut self, keyword: Span, block: &Block<SystemStmt>) -> Option<SystemPolicy> {
        let errors = self.errors();
        let mut presets: Vec<Spanned<&'static str>> = Vec::new();
        let mut adds: Vec<&Str> = Vec::new();
        let mut removes: Vec<&Str> = Vec::new();
        let mut cxx = Once::new("cxx-runtime");
        for stmt in &block.stmts {
            match &stmt.node {
                SystemStmt::Preset(words) => {
                    for w in words {
                        match policy::preset(&w.value) {
                            Some(p) => {
                                if let Some(first) = presets.iter().find(|q| q.value == p.name) {
                                    self.push(
                                        w.span,
                                        ErrorKind::RepeatedStatement {
                                            what: format!("preset `{}`", p.name),
                                            first: first.span,
                                        },
                                    );
                                } else {
                                    presets.push(Spanned::new(p.name, w.span));
                                }
                            }
                            None => self.push(
                                w.span,
                                ErrorKind::UnknownPreset {
                                    name: w.value.clone(),
                                    suggestion: nearest(
                                        &w.value,
                                        policy::PRESETS.iter().map(|p| p.name),
                                    ),
                                },
                            ),
                        }
                    }
                }
                SystemStmt::Add(list) => adds.extend(list),
                SystemStmt::Remove(list) => removes.extend(list),
                SystemStmt::CxxRuntime(w) => cxx.set(self, stmt.keyword, w),
            }
        }
        let cxx_choice = match cxx.first {
            Some((_, w)) => self
                .choice(w, "a C++ runtime choice", CxxRuntime::NAMES)
                .map(|i| Spanned::new([CxxRuntime::Bundle, CxxRuntime::System][i], w.span)),
            None => {
                self.push(keyword, ErrorKind::MissingCxxChoice);
                None
            }
        };

        let mut provided: Vec<SystemEntry> = Vec::new();
        for p in &presets {
            let preset = policy::preset(p.value)?;
            for entry in policy::entries(preset) {
                if !provided.iter().any(|e| e.pattern == entry) {
                    provided.push(SystemEntry {
                        pattern: entry.to_owned(),
                        origin: Origin::Preset(p.value),
                    });
                }
            }
        }
        let cxx_entries = policy::preset("cxx-runtime").map_or(&[][..], |p| p.entries);
        let add_sets: Vec<Option<GlobSet>> = adds.iter().map(|s| self.glob(s, None)).collect();
        let remove_sets: Vec<Option<GlobSet>> =
            removes.iter().map(|s| self.glob(s, None)).collect();
        for (s, set) in adds.iter().zip(&add_sets) {
            let value = s.value();
            if let Some(e) = provided.iter().find(|e| e.pattern == value)
                && let Origin::Preset(preset) = e.origin
            {
                self.push(
                    s.span,
                    ErrorKind::RedundantSystemEntry {
                        pattern: value.clone(),
                        preset,
                    },
                );
            }
            if let Some(c) = &cxx_choice
                && c.value == CxxRuntime::Bundle
                && glob_matches_any(&value, set.as_ref(), cxx_entries.iter().copied())
            {
                self.push(
                    s.span,
                    ErrorKind::CxxContradiction {
                        choice: "bundle",
                        choice_span: c.span,
                    },
                );
            }
        }
        for (s, set) in removes.iter().zip(&remove_sets) {
            let Some(set) = set else {
                continue;
            };
            let value = s.value();
            if let Some(c) = &cxx_choice
                && c.value == CxxRuntime::System
                && glob_matches_any(&value, Some(set), cxx_entries.iter().copied())
            {
                self.push(
                    s.span,
                    ErrorKind::CxxContradiction {
                        choice: "system",
                        choice_span: c.span,
                    },
                );
            } else if !glob_matches_any(
                &value,
                Some(set),
                provided.iter().map(|e| e.pattern.as_str()),
            ) {
                self.push(s.span, ErrorKind::RemoveMatchesNothing { pattern: value });
            }
        }
        let add_globs = assemble(&adds, add_sets);
        let remove_globs = assemble(&removes, remove_sets);
        let cxx_choice = cxx_choice?;
        if self.errors() > errors {
            return None;
        }
        let (add_globs, remove_globs) = (add_globs?, remove_globs?);
        for p in &add_globs.patterns {
            provided.push(SystemEntry {
                pattern: p.value.clone(),
                origin: Origin::Written(p.span),
            });
        }
        let mut bundled: Vec<SystemEntry> = remove_globs
            .patterns
            .iter()
            .map(|p| SystemEntry {
                pattern: p.value.clone(),
                origin: Origin::Written(p.span),
            })
            .collect();
        let cxx_list = cxx_entries.iter().map(|e| SystemEntry {
            pattern: (*e).to_owned(),
            origin: Origin::Cxx(cxx_choice.span),
        });
        match cxx_choice.value {
            CxxRuntime::Bundle => bundled.extend(cxx_list),
            CxxRuntime::System => provided.extend(cxx_list),
        }
        Some(SystemPolicy {
            presets,
            provided_set: globset::GlobSet::empty(),
            bundled_set: globset::GlobSet::empty(),
            provided,
            bundled,
            cxx_runtime: cxx_choice,
        })
    }

    fn farm(&mut self, item: &Item, name: &Word, block: &Block<FarmStmt>) -> Option<Farm> {
        let errors = self.errors();
        let mut root = Once::new("root");
        let mut reals = Once::new("reals");
        let mut links = Once::new("links");
        let mut level = Once::new("level");
        for stmt in &block.stmts {
            match &stmt.node {
                FarmStmt::Root(s) => root.set(self, stmt.keyword, s),
                FarmStmt::Reals(s) => reals.set(self, stmt.keyword, s),
                FarmStmt::Links(s) => links.set(self, stmt.keyword, s),
                FarmStmt::Level(w) => level.set(self, stmt.keyword, w),
            }
        }
        let root_s = root.get();
        let reals_s = reals.get();
        let links_s = links.get();
        for (given, what, example) in [
            (root_s.is_some(), "root", "root \"lib\""),
            (
                reals_s.is_some(),
                "reals",
                "reals \"reals/{hash:16}/{file}\"",
            ),
            (links_s.is_some(), "links", "links \"links/{name}\""),
        ] {
            if !given {
                self.push(
                    name.span,
                    ErrorKind::MissingStatement {
                        what,
                        owner: format!("farm `{}`", name.value),
                        example,
                    },
                );
            }
        }
        let root_t = root_s.and_then(|s| parse_template(s, Context::Root, &mut self.diagnostics));
        let reals_t = reals_s.and_then(|s| parse_template(s, Context::Farm, &mut self.diagnostics));
        let links_t = links_s.and_then(|s| parse_template(s, Context::Farm, &mut self.diagnostics));
        let distinct = [Var::Name, Var::Soname, Var::File, Var::Hash];
        for (t, which) in [(&reals_t, "reals"), (&links_t, "links")] {
            if let Some(t) = t
                && !distinct.iter().any(|v| t.uses(*v))
            {
                self.push(t.span, ErrorKind::FarmPathNotUnique { which });
            }
        }
        let declared = match level.get() {
            Some(w) => match w.value.parse::<usize>() {
                Ok(n) if (1..=16).contains(&n) => Some(Spanned::new(n, w.span)),
                _ => {
                    self.push(
                        w.span,
                        ErrorKind::LevelOutOfRange {
                            text: w.value.clone(),
                        },
                    );
                    None
                }
            },
            None => None,
        };
        let mut level_value = None;
        if let (Some(r), Some(l)) = (&reals_t, &links_t) {
            let reals_depth = r.folder_depth();
            let links_depth = l.folder_depth() + 1;
            let mismatch = |level| ErrorKind::LevelMismatch {
                level,
                reals: (r.span, reals_depth),
                links: (l.span, links_depth),
            };
            match &declared {
                Some(d) if d.value != reals_depth || d.value != links_depth => {
                    self.push(d.span, mismatch(Some(d.value)));
                }
                Some(d) => level_value = Some(d.clone()),
                None if reals_depth != links_depth => self.push(name.span, mismatch(None)),
                None if level.get().is_none() => {
                    level_value = Some(Spanned::new(reals_depth, name.span));
                }
                None => {}
            }
        }
        if self.errors() > errors {
            return None;
        }
        Some(Farm {
            name: name.clone(),
            span: item.span,
            root: Spanned::new(root_t?.text, root_s?.span),
            reals: reals_t?,
            links: links_t?,
            level: level_value?,
            members: Vec::new(),
        })
    }

    fn farm_overlaps(&mut self, farms: &[Option<Farm>]) {
        let farms: Vec<&Farm> = farms.iter().flatten().collect();
        for (j, b) in farms.iter().enumerate() {
            for a in &farms[..j] {
                if inside(&a.root.value, &b.root.value) || inside(&b.root.value, &a.root.value) {
                    self.push(
                        b.root.span,
                        ErrorKind::FarmOverlap {
                            name: b.name.value.clone(),
                            other: a.name.value.clone(),
                            other_span: a.root.span,
                        },
                    );
                }
            }
        }
    }

    fn unit(
        &mut self,
        item: &Item,
        name: &Word,
        block: &Block<UnitStmt>,
        farm_ids: &HashMap<String, usize>,
    ) -> Option<Unit> {
        let errors = self.errors();
        let mut take = Once::new("take");
        let mut to = Once::new("to");
        let mut select = Once::new("select");
        let mut site = Once::new("site");
        let mut action = Once::new("action");
        let mut farm = Once::new("farm");
        let mut serve = Once::new("serve");
        let mut symlinks = Once::new("symlinks");
        let mut pack = Once::new("pack");
        let mut unpacked: Vec<&Str> = Vec::new();
        let mut unpacked_at: Option<Span> = None;
        let mut pack_path: Option<&Str> = None;
        let mut only: Vec<&Str> = Vec::new();
        let mut exclude: Vec<&Str> = Vec::new();
        for stmt in &block.stmts {
            match &stmt.node {
                UnitStmt::Take(list) => take.set(self, stmt.keyword, list),
                UnitStmt::To(s) => to.set(self, stmt.keyword, s),
                UnitStmt::Only(list) => only.extend(list),
                UnitStmt::Exclude(list) => exclude.extend(list),
                UnitStmt::Select(w) => select.set(self, stmt.keyword, w),
                UnitStmt::Site(list) => site.set(self, stmt.keyword, list),
                UnitStmt::Action(w) => action.set(self, stmt.keyword, w),
                UnitStmt::Farm(w) => farm.set(self, stmt.keyword, w),
                UnitStmt::Serve(w) => serve.set(self, stmt.keyword, w),
                UnitStmt::Symlinks(w) => symlinks.set(self, stmt.keyword, w),
                UnitStmt::Pack(w, s) => {
                    if pack.first.is_none() {
                        pack_path = Some(s);
                    }
                    pack.set(self, stmt.keyword, w)
                }
                UnitStmt::Unpacked(list) => {
                    if unpacked.is_empty() {
                        unpacked_at = Some(
                            stmt.keyword
                                .to(list.last().map_or(stmt.keyword, |s| s.span)),
                        );
                    }
                    unpacked.extend(list)
                }
            }
        }

        let mut kinds: Vec<Spanned<Kind>> = Vec::new();
        let mut kinds_ok = true;
        match take.get() {
            None => {
                kinds_ok = false;
                self.push(
                    name.span,
                    ErrorKind::MissingStatement {
                        what: "take",
                        owner: format!("unit `{}`", name.value),
                        example: "take python.stdlib",
                    },
                );
            }
            Some(words) => {
                for w in words {
                    match Kind::from_name(&w.value) {
                        Some(kind) => match kinds.iter().find(|k| k.value == kind) {
                            Some(first) => self.push(
                                w.span,
                                ErrorKind::DuplicateKind {
                                    kind,
                                    first: first.span,
                                },
                            ),
                            None => kinds.push(Spanned::new(kind, w.span)),
                        },
                        None => {
                            kinds_ok = false;
                            self.push(
                                w.span,
                                ErrorKind::UnknownKind {
                                    name: w.value.clone(),
                                    suggestion: nearest(&w.value, KINDS.iter().map(|k| k.name)),
                                },
                            );
                        }
                    }
                }
            }
        }
        let kind_list: Vec<Kind> = kinds.iter().map(|k| k.value).collect();
        let kinds_text = || {
            kind_list
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let matched = kind_list
            .first()
            .map_or("the file's path", |k| k.info().matched);
        let only = self.globs(&only, Some(matched));
        let exclude = self.globs(&exclude, Some(matched));
        let unpacked = self.globs(&unpacked, Some(matched));

        let select_value = match select.first {
            Some((keyword, w)) => {
                if kinds_ok && !kind_list.iter().any(|k| k.info().selectable) {
                    self.push(
                        keyword.to(w.span),
                        ErrorKind::SelectNotApplicable {
                            kinds: kinds_text(),
                        },
                    );
                }
                self.choice(w, "a selection", Select::NAMES)
                    .map(|i| Spanned::new([Select::All, Select::Imported][i], w.span))
            }
            None => Some(Spanned::new(Select::All, name.span)),
        };
        let sites_value = match site.first {
            Some((keyword, words)) => {
                let site_kinds = [Kind::SiteDirs, Kind::Packages];
                if kinds_ok && !kind_list.iter().any(|k| site_kinds.contains(k)) {
                    self.push(
                        keyword,
                        ErrorKind::SiteNotApplicable {
                            kinds: kinds_text(),
                        },
                    );
                }
                let mut sites: Vec<Spanned<SiteKind>> = Vec::new();
                let mut ok = true;
                for w in words {
                    match self.choice(w, "a site dir kind", SITE_KIND_NAMES) {
                        Some(i) => {
                            let value = [SiteKind::Venv, SiteKind::System, SiteKind::User][i];
                            match sites.iter().find(|s| s.value == value) {
                                Some(first) => self.push(
                                    w.span,
                                    ErrorKind::RepeatedStatement {
                                        what: format!("site kind `{}`", w.value),
                                        first: first.span,
                                    },
                                ),
                                None => sites.push(Spanned::new(value, w.span)),
                            }
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Some(sites))
            }
            None => Some(None),
        };
        let symlinks_value = match symlinks.get() {
            Some(w) => self
                .choice(w, "a way to write symlinks", Symlinks::NAMES)
                .map(|i| Spanned::new([Symlinks::Keep, Symlinks::Copy][i], w.span)),
            None => Some(Spanned::new(Symlinks::Keep, name.span)),
        };
        let action_value = match action.get() {
            Some(w) => self.choice(w, "an action", Action::NAMES).map(|i| {
                Spanned::new(
                    [Action::Copy, Action::Symlink, Action::Move, Action::Skip][i],
                    w.span,
                )
            }),
            None => Some(Spanned::new(Action::Copy, name.span)),
        };
        let farm_value = match farm.first {
            Some((keyword, w)) => match farm_ids.get(&w.value) {
                Some(&id) => {
                    if kinds_ok && !kind_list.iter().any(|k| k.info().native) {
                        self.push(
                            keyword.to(w.span),
                            ErrorKind::FarmNotApplicable {
                                kinds: kinds_text(),
                            },
                        );
                    }
                    Some(Some(Spanned::new(FarmId(id), w.span)))
                }
                None => {
                    self.push(
                        w.span,
                        ErrorKind::UnknownFarm {
                            name: w.value.clone(),
                            suggestion: nearest(&w.value, farm_ids.keys().map(String::as_str))
                                .map(str::to_owned),
                        },
                    );
                    None
                }
            },
            None => Some(None),
        };
        let serve_value = match serve.first {
            Some((keyword, w)) => {
                if self
                    .choice(w, "something a unit serves", &["callers"])
                    .is_some()
                    && kinds_ok
                    && !kind_list.contains(&Kind::RuntimeLoads)
                {
                    self.push(
                        keyword.to(w.span),
                        ErrorKind::ServeNotApplicable {
                            kinds: kinds_text(),
                        },
                    );
                }
                Some(keyword.to(w.span))
            }
            None => None,
        };

        let destination = if kinds_ok {
            to.get()
                .and_then(|s| parse_template(s, Context::Unit(&kind_list), &mut self.diagnostics))
        } else {
            None
        };
        if let Some(t) = &destination {
            for kind in &kind_list {
                let distinct = kind.info().distinct;
                if !distinct.is_empty() && !distinct.iter().any(|v| t.uses(*v)) {
                    let names: Vec<String> =
                        distinct.iter().map(|v| format!("`{{{v}}}`")).collect();
                    self.push(
                        t.span,
                        ErrorKind::NotPerFile {
                            kind: *kind,
                            distinct: super::diagnostics::one_of(
                                &names.iter().map(String::as_str).collect::<Vec<_>>(),
                            ),
                        },
                    );
                    break;
                }
            }
        }
        if let Some(action) = &action_value {
            let act = action.value;
            if matches!(act, Action::Symlink | Action::Move) && farm.first.is_none() {
                self.push(
                    action.span,
                    ErrorKind::ActionNeedsFarm { action: act.name() },
                );
            }
            match (act, to.first) {
                (Action::Copy | Action::Symlink, None) if kinds_ok => self.push(
                    name.span,
                    ErrorKind::MissingDestination { action: act.name() },
                ),
                (Action::Move | Action::Skip, Some((keyword, s))) => self.push(
                    keyword.to(s.span),
                    ErrorKind::DestinationUnused {
                        action: act.name(),
                        action_span: action.span,
                    },
                ),
                _ => {}
            }
        }

        let pack_value = match (pack.first, pack_path) {
            (Some((keyword, w)), Some(s)) => {
                let span = keyword.to(s.span);
                if kinds_ok && !kind_list.iter().all(|k| k.info().importable) {
                    self.push(
                        span,
                        ErrorKind::PackNotApplicable {
                            kinds: kinds_text(),
                        },
                    );
                }
                if let Some(action) = action_value.as_ref().filter(|a| a.value != Action::Copy) {
                    self.push(
                        span,
                        ErrorKind::PackNeedsCopy {
                            action: action.value.name(),
                            action_span: action.span,
                        },
                    );
                }
                let format = self.choice(w, "an archive format", &["zip"]);
                let archive = parse_template(s, Context::Archive, &mut self.diagnostics);
                format.and(archive).map(|archive| Pack { archive, span })
            }
            _ => None,
        };
        if let (None, Some(span)) = (&pack_value, unpacked_at) {
            if pack.first.is_none() {
                self.push(span, ErrorKind::UnpackedWithoutPack);
            }
        }

        if self.errors() > errors {
            return None;
        }
        let action_value = action_value?;
        let keep_destination = matches!(action_value.value, Action::Copy | Action::Symlink);
        Some(Unit {
            name: name.clone(),
            span: item.span,
            kinds,
            only: only?,
            exclude: exclude?,
            select: select_value?,
            sites: sites_value?,
            destination: if keep_destination { destination } else { None },
            action: action_value,
            farm: farm_value?,
            serve_callers: serve_value,
            symlinks: symlinks_value?,
            pack: pack_value,
            unpacked: unpacked?,
        })
    }

    /// Statically certain conflicts between units.
    fn claims(&mut self, units: &[Option<Unit>], deny: bool) {
        let mut same_files: HashMap<(Kind, &str), &Unit> = HashMap::new();
        let mut fixed: HashMap<&str, &Unit> = HashMap::new();
        for unit in units.iter().flatten() {
            let Some(dest) = &unit.destination else {
                continue;
            };
            if dest.is_fixed() {
                match fixed.get(dest.text.as_str()) {
                    Some(other) => {
                        let other_span = other
                            .destination
                            .as_ref()
                            .map_or(other.name.span, |d| d.span);
                        self.push(
                            dest.span,
                            ErrorKind::DestinationConflict {
                                path: dest.text.clone(),
                                other: other.name.value.clone(),
                                other_span,
                            },
                        );
                    }
                    None => {
                        fixed.insert(&dest.text, unit);
                    }
                }
            }
            if !unit.only.is_empty() || !unit.exclude.is_empty() || unit.sites.is_some() {
                continue;
            }
            for kind in &unit.kinds {
                match same_files.get(&(kind.value, dest.text.as_str())) {
                    Some(other) if other.select.value == unit.select.value => {
                        let other_span = other
                            .kinds
                            .iter()
                            .find(|k| k.value == kind.value)
                            .map_or(other.name.span, |k| k.span);
                        self.push(
                            kind.span,
                            ErrorKind::DuplicateClaim {
                                unit: unit.name.value.clone(),
                                other: other.name.value.clone(),
                                other_span,
                                kind: kind.value,
                                deny,
                            },
                        );
                    }
                    Some(_) => {}
                    None => {
                        same_files.insert((kind.value, &dest.text), unit);
                    }
                }
            }
        }
    }

    /// Destinations written among a farm's reals or link folders.
    fn farm_intrusions(&mut self, units: &[Option<Unit>], farms: &[Option<Farm>]) {
        let areas: Vec<(String, &Farm, Span)> = farms
            .iter()
            .flatten()
            .flat_map(|f| {
                [(&f.reals, f.reals.span), (&f.links, f.links.span)]
                    .into_iter()
                    .map(move |(t, span)| (join(&f.root.value, t.fixed_folder()), f, span))
            })
            .collect();
        for unit in units.iter().flatten() {
            let Some(dest) = &unit.destination else {
                continue;
            };
            let folder = dest.fixed_folder();
            if let Some((_, farm, span)) = areas.iter().find(|(area, _, _)| inside(area, folder)) {
                self.push(
                    dest.span,
                    ErrorKind::DestinationInFarm {
                        farm: farm.name.value.clone(),
                        folder: *span,
                    },
                );
            }
        }
    }

    fn launcher(
        &mut self,
        keyword: Span,
        block: &Block<LauncherStmt>,
        unit_ids: &HashMap<String, usize>,
        units: &[Option<Unit>],
    ) -> Option<Launcher> {
        let errors = self.errors();
        let mut at = Once::new("at");
        let mut form = Once::new("form");
        let mut python = Once::new("python");
        let mut path = Once::new("path");
        let mut entry = Once::new("entry");
        let mut flags = Once::new("flags");
        let mut programs = Once::new("programs");
        let mut envs: Vec<(Span, &Word, &Option<Str>)> = Vec::new();
        for stmt in &block.stmts {
            match &stmt.node {
                LauncherStmt::At(s) => at.set(self, stmt.keyword, s),
                LauncherStmt::Form(w) => form.set(self, stmt.keyword, w),
                LauncherStmt::Python(w) => python.set(self, stmt.keyword, w),
                LauncherStmt::Path(list) => path.set(self, stmt.keyword, list),
                LauncherStmt::Entry(..) => entry.set(self, stmt.keyword, &stmt.node),
                LauncherStmt::Flags(list) => flags.set(self, stmt.keyword, list),
                LauncherStmt::Programs(list) => programs.set(self, stmt.keyword, list),
                LauncherStmt::Env(name, value) => envs.push((stmt.keyword, name, value)),
            }
        }
        let missing = |a: &mut Analyzer, what, example| {
            a.push(
                keyword,
                ErrorKind::MissingStatement {
                    what,
                    owner: "the launcher".into(),
                    example,
                },
            )
        };
        let path_t = match at.get() {
            Some(s) => parse_template(s, Context::Launcher, &mut self.diagnostics),
            None => {
                missing(self, "at", "at \"bin/{app.name}\"");
                None
            }
        };
        let form_v = match form.get() {
            Some(w) => self
                .choice(w, "a launcher form", LauncherForm::NAMES)
                .map(|i| Spanned::new([LauncherForm::Sh, LauncherForm::Symlink][i], w.span)),
            None => Some(Spanned::new(LauncherForm::Sh, keyword)),
        };
        if let Some(f) = &form_v
            && f.value == LauncherForm::Symlink
        {
            for (given, what) in [
                (path.first.map(|(s, _)| s), "path"),
                (entry.first.map(|(s, _)| s), "entry"),
                (flags.first.map(|(s, _)| s), "flags"),
                (programs.first.map(|(s, _)| s), "programs"),
                (envs.first().map(|(s, _, _)| *s), "env"),
            ] {
                if let Some(span) = given {
                    self.push(
                        span,
                        ErrorKind::NotForForm {
                            what,
                            form_span: f.span,
                        },
                    );
                }
            }
        }
        let resolve = |a: &mut Analyzer, w: &Word| -> Option<(UnitId, Option<&Unit>)> {
            match unit_ids.get(&w.value) {
                Some(&id) => Some((UnitId(id), units.get(id).and_then(Option::as_ref))),
                None => {
                    a.push(
                        w.span,
                        ErrorKind::UnknownUnit {
                            name: w.value.clone(),
                            suggestion: nearest(&w.value, unit_ids.keys().map(String::as_str))
                                .map(str::to_owned),
                        },
                    );
                    None
                }
            }
        };
        let python_v = match python.get() {
            Some(w) => resolve(self, w).map(|(id, unit)| {
                if let Some(unit) = unit
                    && !unit.takes(Kind::Interpreter)
                {
                    self.push(
                        w.span,
                        ErrorKind::LauncherNotInterpreter {
                            unit: w.value.clone(),
                            unit_span: unit.name.span,
                        },
                    );
                }
                Spanned::new(id, w.span)
            }),
            None => {
                missing(self, "python", "python interpreter");
                None
            }
        };
        let mut sys_path = Vec::new();
        for w in path.get().map_or(&[][..], Vec::as_slice) {
            let Some((id, unit)) = resolve(self, w) else {
                continue;
            };
            if let Some(unit) = unit
                && let Some(reason) = not_importable(unit)
            {
                self.push(
                    w.span,
                    ErrorKind::LauncherNotImportable {
                        unit: w.value.clone(),
                        unit_span: unit.name.span,
                        reason,
                    },
                );
            }
            sys_path.push(Spanned::new(id, w.span));
        }
        let entry_v = match entry.get() {
            Some(LauncherStmt::Entry(w, arg)) => self
                .choice(w, "a launcher entry", LauncherEntry::NAMES)
                .and_then(|i| match (i, arg) {
                    (0, None) => Some(Spanned::new(LauncherEntry::Traced, w.span)),
                    (0, Some(s)) => {
                        self.push(
                            s.span,
                            ErrorKind::EntryArgument {
                                entry: "traced",
                                wants: false,
                            },
                        );
                        None
                    }
                    (_, None) => {
                        self.push(
                            w.span,
                            ErrorKind::EntryArgument {
                                entry: "module",
                                wants: true,
                            },
                        );
                        None
                    }
                    (_, Some(s)) => {
                        let module = s.value();
                        if is_module_name(&module) {
                            Some(Spanned::new(
                                LauncherEntry::Module(module),
                                w.span.to(s.span),
                            ))
                        } else {
                            self.push(s.span, ErrorKind::InvalidModuleName { name: module });
                            None
                        }
                    }
                }),
            _ => Some(Spanned::new(LauncherEntry::Traced, keyword)),
        };
        let mut flag_list: Vec<Spanned<Flag>> = Vec::new();
        for w in flags.get().map_or(&[][..], Vec::as_slice) {
            match Flag::ALL.iter().find(|f| f.name() == w.value) {
                Some(f) => {
                    if let Some(first) = flag_list.iter().find(|g| g.value == *f) {
                        self.push(
                            w.span,
                            ErrorKind::RepeatedStatement {
                                what: format!("flag `{}`", f.name()),
                                first: first.span,
                            },
                        );
                    } else {
                        flag_list.push(Spanned::new(*f, w.span));
                    }
                }
                None => self.push(
                    w.span,
                    ErrorKind::UnknownFlag {
                        word: w.value.clone(),
                        suggestion: nearest(&w.value, Flag::ALL.iter().map(|f| f.name())),
                    },
                ),
            }
        }
        let mut program_units = Vec::new();
        for w in programs.get().map_or(&[][..], Vec::as_slice) {
            let Some((id, unit)) = resolve(self, w) else {
                continue;
            };
            if let Some(unit) = unit
                && !unit.takes(Kind::Executables)
            {
                self.push(
                    w.span,
                    ErrorKind::LauncherNotPrograms {
                        unit: w.value.clone(),
                        unit_span: unit.name.span,
                    },
                );
            }
            program_units.push(Spanned::new(id, w.span));
        }
        let env = self.env_settings(&envs);
        if self.errors() > errors {
            return None;
        }
        Some(Launcher {
            span: keyword.to(block.close),
            path: path_t?,
            form: form_v?,
            python: python_v?,
            sys_path,
            programs: program_units,
            env,
            entry: entry_v?,
            flags: flag_list,
        })
    }

    /// The launcher's `env` statements: `env traced` once, and each variable once, named
    /// as a shell variable and not one the launcher sets itself.
    fn env_settings(&mut self, envs: &[(Span, &Word, &Option<Str>)]) -> Vec<Spanned<EnvSetting>> {
        let mut out: Vec<Spanned<EnvSetting>> = Vec::new();
        let mut seen: Vec<(String, Span)> = Vec::new();
        for (keyword, name, value) in envs {
            let span = value.as_ref().map_or(name.span, |v| name.span.to(v.span));
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name.value) {
                self.push(
                    *keyword,
                    ErrorKind::RepeatedStatement {
                        what: format!("`env {}`", name.value),
                        first: *first,
                    },
                );
                continue;
            }
            seen.push((name.value.clone(), *keyword));
            match (name.value.as_str(), value) {
                ("traced", None) => out.push(Spanned::new(EnvSetting::Traced, span)),
                ("traced", Some(v)) => {
                    self.push(v.span, ErrorKind::EnvArgument { traced: true });
                }
                (_, None) => self.push(name.span, ErrorKind::EnvArgument { traced: false }),
                (n, Some(v)) => {
                    if !EnvSetting::is_name(n) || EnvSetting::reserved(n) {
                        self.push(
                            name.span,
                            ErrorKind::BadEnvName {
                                name: n.to_owned(),
                                reserved: EnvSetting::is_name(n),
                            },
                        );
                        continue;
                    }
                    self.text(v);
                    if let Some(t) = parse_template(v, Context::Launcher, &mut self.diagnostics) {
                        out.push(Spanned::new(
                            EnvSetting::Set {
                                name: n.to_owned(),
                                value: t,
                            },
                            span,
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Why a unit's folders cannot go on `sys.path`, if they cannot.
fn not_importable(unit: &Unit) -> Option<&'static str> {
    if !unit.kinds.iter().any(|k| k.value.info().importable) {
        return Some("takes nothing importable");
    }
    let Some(dest) = &unit.destination else {
        return Some("writes no files at a destination");
    };
    let only_entry = unit.kinds.iter().all(|k| k.value == Kind::Entry);
    match dest.parts.last() {
        Some(Part::Var(r)) if r.var == Var::Path => None,
        Some(Part::Var(r)) if r.var == Var::File && only_entry => None,
        _ => Some("its destination does not end with `/{path}`"),
    }
}

fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Whether `path` is `folder` or lies below it (`""` is the dist's root).
fn inside(folder: &str, path: &str) -> bool {
    folder.is_empty()
        || path == folder
        || (path.starts_with(folder) && path.as_bytes().get(folder.len()) == Some(&b'/'))
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

/// Whether glob `pattern` (compiled: `matcher`) matches any of `texts`, or is one of
/// them.
fn glob_matches_any<'t>(
    pattern: &str,
    matcher: Option<&GlobSet>,
    mut texts: impl Iterator<Item = &'t str>,
) -> bool {
    texts.any(|t| t == pattern || matcher.is_some_and(|m| m.is_match(t)))
}

/// The checked globs of one statement, when every one of them compiled.
fn assemble(patterns: &[&Str], sets: Vec<Option<GlobSet>>) -> Option<Globs> {
    let matchers = sets.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Globs {
        patterns: patterns
            .iter()
            .map(|s| Spanned::new(s.value(), s.span))
            .collect(),
        matchers,
    })
}

/// Where a glob's `{...}` alternatives nest deeper than [`GLOB_MAX_NESTING`]: the span
/// of the first `{` past the limit and the deepest nesting. Scans the string as
/// written, so the span is exact: `\\` in the layout is one `\` that escapes the
/// glob's next character, and `[...]` holds no alternatives.
fn too_deep(s: &Str) -> Option<(Span, usize)> {
    // The value's characters with their offsets in the layout.
    let base = s.body_start();
    let mut chars = Vec::new();
    let mut raw = s.raw.char_indices();
    while let Some((i, c)) = raw.next() {
        let c = if c == '\\' {
            raw.next().map_or(c, |(_, next)| next)
        } else {
            c
        };
        chars.push((base + i, c));
    }
    let (mut depth, mut deepest, mut first) = (0usize, 0usize, None);
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            '\\' => i += 1,
            '[' => {
                // `[]...]` and `[!]...]` hold a literal `]` first.
                let mut j = i + 1;
                if chars.get(j).is_some_and(|(_, c)| *c == '!' || *c == '^') {
                    j += 1;
                }
                if chars.get(j).is_some_and(|(_, c)| *c == ']') {
                    j += 1;
                }
                while chars.get(j).is_some_and(|(_, c)| *c != ']') {
                    j += 1;
                }
                i = j;
            }
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if depth > GLOB_MAX_NESTING && first.is_none() {
                    first = Some(Span::new(at, at + 1));
                }
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    first.map(|span| (span, deepest))
}

fn glob_message(err: &globset::Error) -> String {
    if let globset::ErrorKind::Regex(_) = err.kind() {
        // The regex engine's message quotes the whole regex.
        return "it is too complex to compile".into();
    }
    let text = err.kind().to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}
