//! The farm graph over real traces: a Python process `ctypes`-loads gcc-built fixture
//! libraries, `shenzi trace` records it, and the graph built from the manifest shows
//! content identity, cycles, SONAME clashes, missing needs and the glibc floor.

#[path = "fixtures/native/kit.rs"]
mod kit;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kit::{Kit, SameSoname};
use shenzi::binary::BinaryCache;
use shenzi::farm::{self, FarmGraph, FarmInput, NativeProblem, RootKind};
use shenzi::loader::Rule;
use shenzi::manifest::{LoadVia, Manifest, read_manifest};
use shenzi::policy::{self, Policy};

/// Traces `python -c CODE` into `out` and returns the manifest.
fn trace_with(python: &Path, out: &Path, code: &str) -> Manifest {
    let status = support::shenzi()
        .arg("trace")
        .arg("-o")
        .arg(out)
        .arg("--")
        .arg(python)
        .arg("-c")
        .arg(code)
        .status()
        .expect("shenzi runs");
    assert!(
        status.success(),
        "trace of {} failed: {status}",
        python.display()
    );
    read_manifest(out).expect("manifest reads")
}

/// Traces `python3.11 -c CODE` into the kit's `shenzi.json`.
fn trace(kit: &Kit, code: &str) -> Manifest {
    trace_with(&support::python311(), &kit.path("shenzi.json"), code)
}

/// The graph of `manifest` on this machine.
fn build(manifest: &Manifest, shipped: Option<&[PathBuf]>, policy: Option<&Policy>) -> FarmGraph {
    farm::build(
        FarmInput {
            manifest,
            shipped,
            policy,
            config: &kit::host(),
        },
        &BinaryCache::new(),
    )
}

/// The graph with the glibc policy.
fn graph(manifest: &Manifest) -> FarmGraph {
    let policy = Policy::from_preset(policy::preset("glibc").unwrap());
    build(manifest, None, Some(&policy))
}

/// The paths the traced process mapped, and the graph's nodes.
fn mapped_and_nodes(manifest: &Manifest, g: &FarmGraph) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let mapped = manifest
        .native
        .objects
        .iter()
        .map(|o| o.path.clone())
        .collect();
    let nodes = g.graph.node_weights().map(|n| n.path.clone()).collect();
    (mapped, nodes)
}

fn ctypes_loads(paths: &[&Path]) -> String {
    let mut code = String::from("import ctypes\n");
    for p in paths {
        code.push_str(&format!(
            "try:\n    ctypes.CDLL({:?})\nexcept OSError as e:\n    print('load failed:', e)\n",
            p.display().to_string()
        ));
    }
    code
}

/// Two different files with one SONAME, each wanted by its own dependent: the real
/// process holds only the first (the loader reuses it by SONAME), and the graph
/// reports the clash naming both files.
#[test]
fn two_files_with_one_soname_are_a_clash() {
    let kit = Kit::new();
    let SameSoname { one, two, a, b } = kit.same_soname();
    let manifest = trace(&kit, &ctypes_loads(&[&a, &b]));
    let mapped: Vec<&PathBuf> = manifest
        .native
        .objects
        .iter()
        .map(|o| &o.path)
        .filter(|p| p.ends_with("libdup.so.1"))
        .collect();
    assert_eq!(mapped, vec![&one], "the real process holds only the first");

    let g = graph(&manifest);
    let clash = g.problems.iter().find_map(|p| match p {
        NativeProblem::SonameClash { soname, paths } => Some((soname.clone(), paths.clone())),
        _ => None,
    });
    assert_eq!(
        clash,
        Some(("libdup.so.1".to_owned(), vec![one.clone(), two.clone()]))
    );
    let roots: Vec<_> = g
        .roots
        .iter()
        .filter(|r| matches!(r.kind, RootKind::RuntimeLoad { .. }))
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    let code = miette::Diagnostic::code(
        g.problems
            .iter()
            .find(|p| matches!(p, NativeProblem::SonameClash { .. }))
            .unwrap(),
    )
    .unwrap()
    .to_string();
    assert_eq!(code, "shenzi::native::soname_clash");

    // `explain` shows both files' chains and the clash.
    let out = support::shenzi()
        .arg("explain")
        .arg(kit.path("shenzi.json"))
        .arg("libdup.so.1")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("file: {}", one.display()))
            && text.contains(&format!("file: {}", two.display())),
        "{text}"
    );
    assert!(
        text.contains("problem: two different files are loaded as `libdup.so.1`"),
        "{text}"
    );
}

/// A need nothing provides: the diagnostic names the object, the need and every place
/// searched; the real `ctypes.CDLL` failed on it too, so the load is a warning, not a
/// need.
#[test]
fn a_missing_need_is_a_diagnostic_with_the_places_searched() {
    let kit = Kit::new();
    let user = kit.needs_gone("m/libmissing_user.so", "$ORIGIN/deps");
    let manifest = trace(&kit, &ctypes_loads(&[&user]));
    assert!(
        manifest.native.loads.iter().any(|l| l.resolved.is_none()),
        "{:?}",
        manifest.native.loads
    );

    let g = graph(&manifest);
    let missing: Vec<_> = g
        .problems
        .iter()
        .filter(|p| matches!(p, NativeProblem::MissingNeed { .. }))
        .collect();
    assert_eq!(missing.len(), 1, "{:?}", g.problems);
    let NativeProblem::MissingNeed {
        object,
        need,
        searched,
    } = missing[0]
    else {
        unreachable!()
    };
    assert_eq!((object, need.as_str()), (&user, "libgone.so.7"));
    let deps = kit.path("m/deps/libgone.so.7").display().to_string();
    assert!(
        searched
            .iter()
            .any(|s| s.starts_with(&deps) && s.contains("DT_RUNPATH $ORIGIN/deps")),
        "{searched:?}"
    );
    assert!(
        searched.iter().any(|s| s.starts_with("ld.so.cache")),
        "{searched:?}"
    );
    assert!(
        searched.iter().any(|s| s.contains("default dir")),
        "{searched:?}"
    );
    let rendered = format!("{:?}", miette::Report::new(missing[0].clone()));
    assert!(
        rendered.contains("shenzi::native::missing_need"),
        "{rendered}"
    );
    // The load failed in the traced run too: a warning naming what it lacks, and the
    // library is no part of the graph (nothing brings it into a dist).
    let failed = g
        .problems
        .iter()
        .find(|p| matches!(p, NativeProblem::FailedLoad { .. }))
        .expect("the failed load is reported");
    assert!(!failed.is_error());
    assert!(
        failed.to_string().contains(&format!(
            "`{}` needs `libgone.so.7`, found nowhere",
            user.display()
        )),
        "{failed}"
    );
    assert_eq!(g.node_by_path(&user), None);
}

/// Content identity: the same bytes at two paths are one node with both paths as
/// aliases; a dependency cycle gives edges both ways and terminates.
#[test]
fn identical_files_are_one_node_and_cycles_are_edges_both_ways() {
    let kit = Kit::new();
    let (a, b) = kit.cycle();
    let same1 = kit.plain("s1/libsame.so", "libsame.so");
    std::fs::create_dir_all(kit.path("s2")).unwrap();
    let same2 = kit.path("s2/libsame.so");
    std::fs::copy(&same1, &same2).unwrap();
    let manifest = trace(&kit, &ctypes_loads(&[&a, &same1, &same2]));
    let g = graph(&manifest);
    assert!(g.problems.is_empty(), "{:?}", g.problems);

    let na = g.node_by_path(&a).unwrap();
    let nb = g.node_by_path(&b).unwrap();
    assert!(g.graph.find_edge(na, nb).is_some() && g.graph.find_edge(nb, na).is_some());
    let edge = &g.graph[g.graph.find_edge(nb, na).unwrap()];
    assert_eq!(edge.name, "libcyc_a.so");
    assert!(
        matches!(edge.rule, Rule::Runpath { .. } | Rule::AlreadyLoaded { .. }),
        "{:?}",
        edge.rule
    );
    let n1 = g.node_by_path(&same1).unwrap();
    assert_eq!(g.node_by_path(&same2), Some(n1));
    assert!(g.graph[n1].aliases.contains(&same1) && g.graph[n1].aliases.contains(&same2));
}

/// The glibc floor of a real application, as a user reads it.
#[test]
fn the_glibc_floor_names_the_version_and_the_object() {
    let venv = support::wheel_venv();
    let kit = Kit::new();
    let manifest = trace_with(
        &venv.join("bin/python"),
        &kit.path("np.json"),
        "import numpy, PIL.Image, lxml.etree, cryptography.hazmat.bindings._rust",
    );
    let g = graph(&manifest);
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    let floor = g.glibc_floor();
    let glibc = floor
        .glibc
        .clone()
        .expect("bundled objects need versioned glibc symbols");
    assert!(glibc.version >= vec![2, 17], "{glibc:?}");
    // Nothing bundled may need a newer glibc than the one it was traced on.
    let host = manifest.platform.libc.clone().unwrap_or_default();
    let host: Vec<u32> = host
        .trim_start_matches("glibc ")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(glibc.version <= host, "{glibc:?} vs {host:?}");
    let text = floor.to_string();
    assert!(text.starts_with("runs on glibc ≥ 2."), "{text}");
    assert!(text.contains("Debian") && text.contains("RHEL"), "{text}");
    assert!(text.contains(&glibc.needed_by.display().to_string()));
    // libc itself is system policy: never part of the floor computation's objects.
    assert!(
        g.bundled()
            .all(|i| g.graph[i].info.soname.as_deref() != Some("libc.so.6"))
    );
}

/// Roots that are not loadable objects are reported, each with its own code, and the
/// rest of the graph is still built (problems are collected, not first-only).
#[test]
fn bad_roots_are_reported_and_the_rest_still_builds() {
    let kit = Kit::new();
    let good = kit.plain("ok/libgood_ext.so", "libgood_ext.so");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    let arm = kit.path("ok/libarm_ext.so");
    std::fs::write(&arm, &bytes).unwrap();
    // Cut from the host-machine library: the loader skips another machine's object on
    // its header, before it could notice the cut.
    let cut = kit.path("ok/libcut_ext.so");
    std::fs::write(&cut, &std::fs::read(&good).unwrap()[..100]).unwrap();
    let text = kit.path("ok/text_ext.so");
    std::fs::write(&text, "print('hi')\n").unwrap();
    let gone = kit.path("ok/gone_ext.so");
    let manifest = trace(&kit, "pass");
    let selected = vec![
        good.clone(),
        arm.clone(),
        cut.clone(),
        text.clone(),
        gone.clone(),
    ];
    let g = build(&manifest, Some(&selected), None);
    let codes: Vec<String> = g
        .problems
        .iter()
        .map(|p| miette::Diagnostic::code(p).unwrap().to_string())
        .collect();
    for code in ["other_arch", "corrupt", "not_elf", "missing_root"] {
        assert!(
            codes.contains(&format!("shenzi::native::{code}")),
            "{code}: {codes:?}"
        );
    }
    assert!(g.node_by_path(&good).is_some());
    assert!(g.roots.iter().any(|r| r.path == good));
}

/// The graph holds exactly what the real process mapped: every object in the trace's
/// `/proc/self/maps` is a node, and every node was mapped (no policy, so nothing is
/// left to the system).
#[test]
fn the_graph_holds_exactly_what_the_traced_process_mapped() {
    let venv = support::wheel_venv();
    let kit = Kit::new();
    let manifest = trace_with(
        &venv.join("bin/python"),
        &kit.path("all.json"),
        "import numpy, PIL.Image, lxml.etree, cryptography.hazmat.bindings._rust, ssl, sqlite3, ctypes; ctypes.CDLL('libz.so.1')",
    );
    let g = build(&manifest, None, None);
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    let (mapped, nodes) = mapped_and_nodes(&manifest, &g);
    assert_eq!(nodes, mapped);
    assert!(mapped.len() > 20, "{}", mapped.len());
    assert!(
        !g.roots.iter().any(|r| r.kind == RootKind::Mapped),
        "every mapped object is explained by a traced cause: {:?}",
        g.roots
            .iter()
            .filter(|r| r.kind == RootKind::Mapped)
            .collect::<Vec<_>>()
    );
}

/// The same on every interpreter of the matrix (pyenv 3.8–3.13 with a shared
/// libpython and an absolute RUNPATH, Debian's static one), with stdlib extensions.
#[test]
fn every_interpreters_graph_matches_its_mapped_objects() {
    let kit = Kit::new();
    let mut checked = 0;
    for interp in support::interpreters() {
        let manifest = trace_with(
            &interp.path,
            &kit.path(&format!("{}.json", interp.label)),
            "import ssl, sqlite3, ctypes, zlib, bz2, lzma, _decimal, readline, curses, uuid, hashlib",
        );
        let g = build(&manifest, None, None);
        assert!(g.problems.is_empty(), "{}: {:?}", interp.label, g.problems);
        let (mapped, nodes) = mapped_and_nodes(&manifest, &g);
        assert_eq!(nodes, mapped, "{}", interp.label);
        assert!(
            !g.roots.iter().any(|r| r.kind == RootKind::Mapped),
            "{}",
            interp.label
        );
        checked += 1;
    }
    assert!(checked > 0);
}

/// A library that `dlopen`s another from C: no audit event sees it, but the object is
/// mapped, so it becomes a root of its own (a derived `dlopen` load, or "mapped, no
/// traced cause") and is kept.
#[test]
fn a_library_dlopened_from_c_is_a_root() {
    let kit = Kit::new();
    let plugin = kit.plain("plug/libplugin.so", "libplugin.so");
    let host_src = kit.path("h/libhost.c");
    std::fs::create_dir_all(kit.path("h")).unwrap();
    std::fs::write(
        &host_src,
        format!(
            "#include <dlfcn.h>\n__attribute__((constructor)) static void load(void) {{ dlopen({:?}, RTLD_NOW); }}\n",
            plugin.display().to_string()
        ),
    )
    .unwrap();
    let host = kit.path("h/libhost.so");
    kit::gcc(&[
        "-shared",
        "-fPIC",
        host_src.to_str().unwrap(),
        "-o",
        host.to_str().unwrap(),
        "-Wl,-soname,libhost.so",
        "-ldl",
    ]);
    let manifest = trace(&kit, &ctypes_loads(&[&host]));
    assert!(
        manifest.native.objects.iter().any(|o| o.path == plugin),
        "the real process mapped the plugin"
    );
    let g = graph(&manifest);
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    let node = g.node_by_path(&plugin).expect("the plugin is in the graph");
    let root = g.roots.iter().find(|r| r.node == node).expect("as a root");
    // The trace derives the load from the mappings (no audit event saw it); the graph
    // roots it as a run-time load by native code, opened by its real path.
    match &root.kind {
        RootKind::RuntimeLoad { via, .. } => assert_eq!(*via, LoadVia::Dlopen),
        RootKind::Mapped => {}
        other => panic!("unexpected root {other:?}"),
    }
    assert_eq!(root.path, plugin);
    assert!(
        !g.roots
            .iter()
            .any(|r| r.kind == RootKind::Mapped && r.node != node)
    );
}

/// A run-time load that failed in the traced run (a probe the app handles) and that the
/// loader cannot make here either is a warning, not a need of `_ctypes`.
#[test]
fn a_failed_probe_is_a_warning_not_a_need() {
    let kit = Kit::new();
    let manifest = trace(
        &kit,
        "import ctypes\ntry:\n    ctypes.CDLL('libshenzi_absent.so.9')\nexcept OSError:\n    pass\n",
    );
    let load = manifest
        .native
        .loads
        .iter()
        .find(|l| l.name == "libshenzi_absent.so.9")
        .expect("the trace records the probe");
    assert_eq!(load.resolved, None);
    let g = graph(&manifest);
    let [problem] = g.problems.as_slice() else {
        panic!("{:?}", g.problems);
    };
    assert!(
        matches!(problem, NativeProblem::FailedLoad { name, .. } if name == "libshenzi_absent.so.9"),
        "{problem:?}"
    );
    assert!(!problem.is_error());
    assert_eq!(
        miette::Diagnostic::code(problem).unwrap().to_string(),
        "shenzi::native::failed_load"
    );
    assert!(
        problem
            .to_string()
            .starts_with("ctypes.CDLL(\"libshenzi_absent.so.9\")"),
        "{problem}"
    );
}

/// Objects the dist ships that the traced run never loaded are roots of their own: a
/// program resolved as a process of its own (its C++ runtime found), a library as a
/// `dlopen` from the interpreter. Two such builds of one SONAME, never loaded together,
/// are no clash.
#[test]
fn shipped_objects_the_run_never_loaded_are_roots() {
    let kit = Kit::new();
    let program = kit.cxx_program(&kit.path("pkg/data/bin/tool"), "ok");
    let library = kit.cxx_lib(&kit.path("pkg/libextra.so.2"), "libextra.so.2", &[], &[]);
    let SameSoname { a, b, .. } = kit.same_soname();
    let manifest = trace(&kit, "pass");
    let policy = Policy::from_preset(policy::preset("glibc").unwrap());
    let shipped = vec![program.clone(), library.clone(), a.clone(), b.clone()];
    let g = build(&manifest, Some(&shipped), Some(&policy));
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    let root = |path: &Path| {
        g.roots
            .iter()
            .find(|r| r.path.ends_with(path.file_name().unwrap()))
            .unwrap_or_else(|| panic!("{} is no root: {:?}", path.display(), g.roots))
    };
    assert_eq!(root(&program).kind, RootKind::Shipped { program: true });
    assert_eq!(root(&library).kind, RootKind::Shipped { program: false });
    for object in [&program, &library] {
        let node = root(object).node;
        let needs: Vec<&str> = g
            .graph
            .edges(node)
            .map(|e| e.weight().name.as_str())
            .collect();
        assert!(
            needs.contains(&"libstdc++.so.6") && needs.contains(&"libgcc_s.so.1"),
            "{}: {needs:?}",
            object.display()
        );
    }
    // Both libdup.so.1 files are in the graph, each reached from its own dependent.
    let dups = g
        .graph
        .node_weights()
        .filter(|n| n.info.soname.as_deref() == Some("libdup.so.1"))
        .count();
    assert_eq!(dups, 2);
}
