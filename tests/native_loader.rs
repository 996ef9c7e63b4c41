//! The resolver against the real glibc loader, one fixture per loader rule. Each test
//! builds its libraries with gcc, asks shenzi's resolver, then runs a probe program that
//! `dlopen`s the same files so the real loader confirms (or refutes) the answer.

#[path = "fixtures/native/kit.rs"]
mod kit;

use std::path::Path;

use kit::{Kit, Lib, SameSoname, host};
use shenzi::binary::BinaryCache;
use shenzi::loader::{Miss, Opened, Process, Request, Resolution, Rule, SearchConfig, resolve};

/// `path` as an object opened by that path.
fn opened(cache: &BinaryCache, path: &Path) -> Opened {
    Opened {
        path: path.to_owned(),
        info: cache.get(path).unwrap().elf().unwrap().clone(),
    }
}

/// Resolves `object`'s need `name`, loaded on its own (no chain, nothing loaded yet).
fn resolve_need(
    cache: &BinaryCache,
    config: &SearchConfig,
    object: &Opened,
    name: &str,
    library_path: &[String],
) -> Resolution {
    resolve(
        cache,
        config,
        &Request {
            name,
            object,
            chain: &[],
            main: None,
            library_path,
            loaded: &[],
        },
    )
}

fn has(list: &[String], path: &Path) -> bool {
    list.iter().any(|l| Path::new(l) == path)
}

/// Rule: DT_RPATH is searched before LD_LIBRARY_PATH; DT_RUNPATH after it.
#[test]
fn rpath_beats_ld_library_path_and_ld_library_path_beats_runpath() {
    let kit = Kit::new();
    let from_lp = kit.plain("lp/libord.so.1", "libord.so.1");
    let from_dir = kit.plain("own/libord.so.1", "libord.so.1");
    let own = kit.path("own");
    let own = own.to_str().unwrap();
    let with_rpath = kit.lib(
        "r/libr.so",
        Lib {
            soname: "libr.so",
            needs: &[&from_dir],
            rpath: &[own],
            ..Lib::default()
        },
    );
    let with_runpath = kit.lib(
        "u/libu.so",
        Lib {
            soname: "libu.so",
            needs: &[&from_dir],
            runpath: &[own],
            ..Lib::default()
        },
    );
    let lp = kit.path("lp");
    let lp = lp.to_str().unwrap();

    let loaded = kit.agree(&[&with_rpath], Some(lp));
    assert!(has(&loaded, &from_dir), "DT_RPATH should win: {loaded:?}");
    let loaded = kit.agree(&[&with_runpath], Some(lp));
    assert!(
        has(&loaded, &from_lp),
        "LD_LIBRARY_PATH should win over DT_RUNPATH: {loaded:?}"
    );
    let loaded = kit.agree(&[&with_runpath], None);
    assert!(
        has(&loaded, &from_dir),
        "without LD_LIBRARY_PATH, DT_RUNPATH: {loaded:?}"
    );
}

/// Rule: an object with DT_RUNPATH has no effective DT_RPATH (both tags present).
#[test]
fn rpath_is_ignored_when_the_object_also_has_runpath() {
    let kit = Kit::new();
    let in_r = kit.plain("rdir/libboth_dep.so.1", "libboth_dep.so.1");
    let in_u = kit.plain("udir/libboth_dep.so.1", "libboth_dep.so.1");
    let rdir = kit.path("rdir");
    let udir = kit.path("udir");
    // DT_RPATH=rdir from the linker; DT_AUXILIARY=udir turned into DT_RUNPATH.
    let both = kit.path("both/libboth.so");
    std::fs::create_dir_all(both.parent().unwrap()).unwrap();
    let src = kit.path("both/libboth.c");
    std::fs::write(&src, "int both(void) { return 0; }\n").unwrap();
    kit::gcc(&[
        "-shared",
        "-fPIC",
        src.to_str().unwrap(),
        "-o",
        both.to_str().unwrap(),
        "-Wl,-soname,libboth.so",
        "-Wl,--no-as-needed",
        in_r.to_str().unwrap(),
        &format!("-Wl,--disable-new-dtags,-rpath,{}", rdir.display()),
        &format!("-Wl,-f,{}", udir.display()),
    ]);
    kit::auxiliary_to_runpath(&both);
    let info = shenzi::binary::read_object(&both).unwrap().unwrap();
    assert_eq!((info.rpath.len(), info.runpath.len()), (1, 1), "{info:?}");
    let loaded = kit.agree(&[&both], None);
    assert!(has(&loaded, &in_u), "DT_RUNPATH, not DT_RPATH: {loaded:?}");
    assert!(!has(&loaded, &in_r));
}

/// Rule: DT_RPATH serves the needs of everything an object loads (down the loader
/// chain); DT_RUNPATH serves only the object's own needs.
#[test]
fn rpath_is_inherited_down_the_chain_and_runpath_is_not() {
    let kit = Kit::new();
    let leaf = kit.plain("leafdir/libleaf.so.1", "libleaf.so.1");
    // mid needs leaf but has no search path of its own.
    let mid = kit.lib(
        "middir/libmid.so.1",
        Lib {
            soname: "libmid.so.1",
            needs: &[&leaf],
            ..Lib::default()
        },
    );
    let dirs = format!(
        "{}:{}",
        kit.path("middir").display(),
        kit.path("leafdir").display()
    );
    let via_rpath = kit.lib(
        "top/libtop_r.so",
        Lib {
            soname: "libtop_r.so",
            needs: &[&mid],
            rpath: &[&dirs],
            ..Lib::default()
        },
    );
    let via_runpath = kit.lib(
        "top/libtop_u.so",
        Lib {
            soname: "libtop_u.so",
            needs: &[&mid],
            runpath: &[&dirs],
            ..Lib::default()
        },
    );
    let loaded = kit.agree(&[&via_rpath], None);
    assert!(has(&loaded, &leaf), "{loaded:?}");

    // With DT_RUNPATH, mid cannot find leaf: both the loader and shenzi fail on it.
    kit.both_miss(&[&via_runpath], "libleaf.so.1");

    // An object with DT_RUNPATH of its own does not inherit its loaders' DT_RPATH.
    let mid_u = kit.lib(
        "midu/libmid_u.so.1",
        Lib {
            soname: "libmid_u.so.1",
            needs: &[&leaf],
            runpath: &["/nonexistent"],
            ..Lib::default()
        },
    );
    let dirs_u = format!(
        "{}:{}",
        kit.path("midu").display(),
        kit.path("leafdir").display()
    );
    let top_u = kit.lib(
        "top/libtop_ru.so",
        Lib {
            soname: "libtop_ru.so",
            needs: &[&mid_u],
            rpath: &[&dirs_u],
            ..Lib::default()
        },
    );
    kit.both_miss(&[&top_u], "libleaf.so.1");

    // And the resolver names the inherited entry as the rule.
    let cache = BinaryCache::new();
    let config = host();
    let (top, mid_o) = (opened(&cache, &via_rpath), opened(&cache, &mid));
    let res = resolve(
        &cache,
        &config,
        &Request {
            name: "libleaf.so.1",
            object: &mid_o,
            chain: &[&top],
            main: None,
            library_path: &[],
            loaded: &[],
        },
    );
    let found = res.found.expect("found through the inherited DT_RPATH");
    assert_eq!(found.path, leaf);
    assert_eq!(
        found.rule,
        Rule::Rpath {
            owner: via_rpath.clone(),
            entry: kit.path("leafdir").display().to_string()
        }
    );
}

/// Rule: `$ORIGIN` is the directory of the path an object was opened by — a symlink's
/// directory, not the real file's (DESIGN.md, "Loader facts").
#[test]
fn origin_follows_the_symlink_not_the_real_file() {
    let kit = Kit::new();
    let near_link = kit.plain("links/deps/libside.so.1", "libside.so.1");
    let near_real = kit.plain("reals/deps/libside.so.1", "libside.so.1");
    let real = kit.lib(
        "reals/libmain_o.so",
        Lib {
            soname: "libmain_o.so",
            needs: &[&near_real],
            runpath: &["$ORIGIN/deps"],
            ..Lib::default()
        },
    );
    let link = kit.path("links/libmain_o.so");
    std::os::unix::fs::symlink("../reals/libmain_o.so", &link).unwrap();

    let loaded = kit.agree(&[&link], None);
    assert!(
        has(&loaded, &link),
        "opened through the symlink: {loaded:?}"
    );
    assert!(has(&loaded, &near_link), "$ORIGIN is links/: {loaded:?}");
    assert!(!has(&loaded, &near_real));
    // Opened through its real path, the same file finds the other dependency.
    let loaded = kit.agree(&[&real], None);
    assert!(has(&loaded, &near_real), "$ORIGIN is reals/: {loaded:?}");
}

/// Rule: a need names the SONAME (`libx.so.1`), found through the symlink chain
/// `libx.so -> libx.so.1 -> libx.so.1.2`; the file is read once (one identity).
#[test]
fn soname_symlink_chain_resolves_to_one_file() {
    let kit = Kit::new();
    let real = kit.plain("chain/libx.so.1.2", "libx.so.1");
    std::os::unix::fs::symlink("libx.so.1.2", kit.path("chain/libx.so.1")).unwrap();
    std::os::unix::fs::symlink("libx.so.1", kit.path("chain/libx.so")).unwrap();
    let chain = kit.path("chain");
    let user = kit.lib(
        "user/libuser.so",
        Lib {
            soname: "libuser.so",
            needs: &[&kit.path("chain/libx.so")],
            runpath: &[chain.to_str().unwrap()],
            ..Lib::default()
        },
    );
    let info = shenzi::binary::read_object(&user).unwrap().unwrap();
    assert!(info.needed.contains(&"libx.so.1".to_owned()), "{info:?}");
    let loaded = kit.agree(&[&user], None);
    assert!(has(&loaded, &kit.path("chain/libx.so.1")), "{loaded:?}");

    let cache = BinaryCache::new();
    let a = cache.get(&kit.path("chain/libx.so")).unwrap();
    let b = cache.get(&kit.path("chain/libx.so.1")).unwrap();
    let c = cache.get(&real).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b) && std::sync::Arc::ptr_eq(&b, &c));
    assert_eq!(cache.files_read(), 1);
}

/// Rule: a loaded object is reused for a need equal to its SONAME; the loader never
/// loads a second file under that name (so two libraries with one SONAME cannot both
/// serve their dependents).
#[test]
fn a_loaded_soname_is_reused_instead_of_searching() {
    let kit = Kit::new();
    let SameSoname { one, two, a, b } = kit.same_soname();
    let loaded = kit.agree(&[&a, &b], None);
    assert!(has(&loaded, &one) && !has(&loaded, &two), "{loaded:?}");
    let loaded = kit.agree(&[&b, &a], None);
    assert!(has(&loaded, &two) && !has(&loaded, &one), "{loaded:?}");
}

/// Rule: cycles terminate — a needs b, b needs a; each is loaded once.
#[test]
fn a_dependency_cycle_loads_each_object_once() {
    let kit = Kit::new();
    let (a, b) = kit.cycle();
    let loaded = kit.agree(&[&a], None);
    assert_eq!(
        loaded.iter().filter(|l| l.contains("libcyc_")).count(),
        2,
        "{loaded:?}"
    );
    assert!(has(&loaded, &b));
}

/// Rule: a need nothing provides fails, and every place searched is listed in order.
#[test]
fn a_missing_need_lists_every_place_searched() {
    let kit = Kit::new();
    let dir = kit.path("nowhere");
    let user = kit.needs_gone("m/libmissing_user.so", dir.to_str().unwrap());
    let real = kit.both_miss(&[&user], "libgone.so.7");
    assert!(
        real.contains("libgone.so.7: cannot open shared object file"),
        "{real}"
    );

    let cache = BinaryCache::new();
    let config = host();
    let object = opened(&cache, &user);
    let lp = vec![kit.path("lp").display().to_string()];
    let res = resolve_need(&cache, &config, &object, "libgone.so.7", &lp);
    assert!(res.found.is_none());
    let rules: Vec<String> = res.searched.iter().map(|a| a.rule.to_string()).collect();
    let first = |prefix: &str| {
        rules
            .iter()
            .position(|r| r.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} not searched: {rules:?}"))
    };
    assert!(first("LD_LIBRARY_PATH") < first("DT_RUNPATH"));
    assert!(first("DT_RUNPATH") < first("ld.so.cache"));
    assert!(first("ld.so.cache") < first("default dir"));
    assert!(
        res.searched
            .iter()
            .any(|a| a.path.as_deref() == Some(&dir.join("libgone.so.7")))
    );
    assert!(res.searched.iter().any(|a| a.miss == Miss::NotInCache));
    // glibc-hwcaps subfolders are tried before the directory itself.
    let in_dir: Vec<_> = res
        .searched
        .iter()
        .filter_map(|a| a.path.as_ref())
        .filter(|p| p.starts_with(&dir))
        .collect();
    assert_eq!(in_dir.last().unwrap(), &&dir.join("libgone.so.7"));
    if !config.hwcaps.is_empty() {
        assert!(
            in_dir[0].to_string_lossy().contains("glibc-hwcaps"),
            "{in_dir:?}"
        );
    }
}

/// Rule: a candidate of another machine is skipped and the search goes on; a candidate
/// that is not ELF at all stops it (the real loader fails there too).
#[test]
fn other_arch_candidates_are_skipped_and_non_elf_ones_stop_the_search() {
    let kit = Kit::new();
    let good = kit.plain("good/libarch.so.1", "libarch.so.1");
    let user = kit.lib(
        "u/libarch_user.so",
        Lib {
            soname: "libarch_user.so",
            needs: &[&good],
            ..Lib::default()
        },
    );
    // An aarch64 copy (e_machine patched) first on the path.
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::create_dir_all(kit.path("arm")).unwrap();
    std::fs::write(kit.path("arm/libarch.so.1"), &bytes).unwrap();
    let lp = format!(
        "{}:{}",
        kit.path("arm").display(),
        kit.path("good").display()
    );
    let loaded = kit.agree(&[&user], Some(&lp));
    assert!(has(&loaded, &good), "{loaded:?}");

    let cache = BinaryCache::new();
    let config = host();
    let object = opened(&cache, &user);
    let lp_entries = shenzi::loader::split_library_path(&lp);
    let res = resolve_need(&cache, &config, &object, "libarch.so.1", &lp_entries);
    assert_eq!(res.found.unwrap().path, good);
    assert!(
        res.searched
            .iter()
            .any(|a| a.miss == Miss::OtherArch("aarch64".into()))
    );

    // A text file under that name first on the path: the loader gives up.
    std::fs::create_dir_all(kit.path("text")).unwrap();
    std::fs::write(kit.path("text/libarch.so.1"), "not a library\n").unwrap();
    let lp = format!(
        "{}:{}",
        kit.path("text").display(),
        kit.path("good").display()
    );
    let real = kit.real(&[&user], Some(&lp)).unwrap_err();
    assert!(real.contains("libarch.so.1"), "{real}");
    let lp_entries = shenzi::loader::split_library_path(&lp);
    let res = resolve_need(&cache, &config, &object, "libarch.so.1", &lp_entries);
    assert!(res.found.is_none());
    assert_eq!(res.unusable.unwrap().0, kit.path("text/libarch.so.1"));
}

/// Rule: `dlopen` from an object searches with the caller's DT_RUNPATH (as `ctypes`
/// does with `_ctypes`'s), and a name with `/` is opened as a path.
#[test]
fn dlopen_searches_with_the_callers_runpath() {
    let kit = Kit::new();
    let served = kit.plain("served/libserved.so.1", "libserved.so.1");
    let caller = kit.lib(
        "c/libcaller.so",
        Lib {
            soname: "libcaller.so",
            runpath: &[kit.path("served").to_str().unwrap()],
            ..Lib::default()
        },
    );
    let cache = BinaryCache::new();
    let config = host();
    let probe = std::fs::canonicalize(&kit.probe).unwrap();
    let (mut process, _) = Process::start(&cache, &config, &probe, None, Vec::new());
    let main = process.main.unwrap();
    // From the executable, which has no RUNPATH, the name is not found. (Asked before
    // the caller loads it: once loaded, it would be reused by SONAME from anywhere.)
    let events = process.dlopen(&cache, &config, main, "libserved.so.1");
    assert!(events[0].resolution.found.is_none());
    let events = process.dlopen(&cache, &config, main, &caller.to_string_lossy());
    assert_eq!(
        events[0].resolution.found.as_ref().unwrap().rule,
        Rule::Path
    );
    let caller_index = events[0].index.unwrap();
    let events = process.dlopen(&cache, &config, caller_index, "libserved.so.1");
    let found = events[0].resolution.found.as_ref().unwrap();
    assert_eq!(found.path, served);
    assert!(matches!(&found.rule, Rule::Runpath { .. }));
}

/// The system half is injectable: the same object on "a target with only the policy
/// libraries" finds libc through the cache but not libz, which the glibc preset does
/// not provide.
#[test]
fn a_target_with_only_policy_libraries_hides_the_rest_of_the_system() {
    let kit = Kit::new();
    let config = host();
    let libz = config
        .ld_cache
        .lookup("libz.so.1", config.cache_flags, &config.hwcaps)
        .expect("libz.so.1 in this machine's ld.so.cache")
        .path
        .clone();
    let user = kit.lib(
        "z/libzuser.so",
        Lib {
            soname: "libzuser.so",
            needs: &[&libz],
            ..Lib::default()
        },
    );
    let loaded = kit.agree(&[&user], None);
    assert!(has(&loaded, &libz), "{loaded:?}");

    let cache = BinaryCache::new();
    let object = opened(&cache, &user);
    let ask = |config: &SearchConfig, name: &str| resolve_need(&cache, config, &object, name, &[]);
    let host_answer = ask(&config, "libz.so.1").found.expect("the host has libz");
    assert_eq!(
        (host_answer.path, host_answer.rule),
        (libz.clone(), Rule::LdCache)
    );

    let glibc = shenzi::policy::Policy::from_preset(shenzi::policy::preset("glibc").unwrap());
    let target = config.clone().with_only_system(glibc);
    let res = ask(&target, "libz.so.1");
    assert!(res.found.is_none(), "libz is not in the glibc preset");
    assert!(
        res.searched
            .iter()
            .any(|a| a.miss == Miss::NotInPolicy && a.rule == Rule::LdCache),
        "{:?}",
        res.searched
    );
    let libc = ask(&target, "libc.so.6").found.expect("libc is policy");
    assert_eq!(libc.rule, Rule::LdCache);

    // A target with no cache at all and other default directories.
    let bare = SearchConfig {
        ld_cache: Default::default(),
        default_dirs: vec![kit.path("z")],
        ..config.clone()
    };
    let found = ask(&bare, "libzuser.so").found.unwrap();
    assert_eq!(found.rule, Rule::DefaultDir { dir: kit.path("z") });
    assert!(ask(&bare, "libz.so.1").found.is_none());
}

/// How a missing need reads, on a machine described entirely by the test (no
/// hwcaps subfolders, an empty cache, one default directory), so the text is the same
/// everywhere.
#[test]
fn a_missing_need_renders_as_a_diagnostic() {
    let kit = Kit::new();
    let user = kit.needs_gone("app/libuser.so", "$ORIGIN/../lib");
    let config = SearchConfig {
        ld_cache: Default::default(),
        default_dirs: vec![kit.path("sys")],
        hwcaps: vec![],
        legacy_subdirs: vec![],
        ..host()
    };
    let cache = BinaryCache::new();
    let object = opened(&cache, &user);
    let lp = vec!["/opt/lp".to_owned()];
    let res = resolve_need(&cache, &config, &object, "libgone.so.7", &lp);
    let problem = shenzi::farm::NativeProblem::MissingNeed {
        object: user.clone(),
        need: "libgone.so.7".into(),
        searched: res.searched.iter().map(ToString::to_string).collect(),
    };
    let mut text = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::none())
        .with_width(100)
        .render_report(&mut text, &problem)
        .unwrap();
    let text = text.replace(&kit.dir.path().display().to_string(), "[kit]");
    insta::assert_snapshot!("missing_need", text);
}

/// Rule: `LD_PRELOAD` objects load right after the executable, before its needs, and
/// are then reused by SONAME: a preloaded `libord.so.1` wins over the one RUNPATH names.
#[test]
fn preloaded_objects_are_loaded_first_and_reused_by_soname() {
    let kit = Kit::new();
    let pre = kit.plain("pre/libord.so.1", "libord.so.1");
    let own = kit.plain("own/libord.so.1", "libord.so.1");
    let user = kit.lib(
        "u/libord_user.so",
        Lib {
            soname: "libord_user.so",
            needs: &[&own],
            runpath: &[kit.path("own").to_str().unwrap()],
            ..Lib::default()
        },
    );
    let real = kit
        .real_preloaded(&[&user], None, Some(&pre))
        .expect("the real loader loads it");

    let cache = BinaryCache::new();
    let config = host();
    let probe = std::fs::canonicalize(&kit.probe).unwrap();
    let start = shenzi::loader::Start {
        exe: &probe,
        interp: None,
        library_path: vec![],
        preload: shenzi::loader::split_preload(&pre.display().to_string()),
    };
    let (mut process, events) = Process::launch(&cache, &config, &start, &|_| true);
    assert!(events.iter().any(|e| e.preload && e.index.is_some()));
    let main = process.main.unwrap();
    let events = process.dlopen(&cache, &config, main, &user.to_string_lossy());
    let ord = events.iter().find(|e| e.name == "libord.so.1").unwrap();
    assert!(matches!(
        ord.resolution.found.as_ref().unwrap().rule,
        Rule::AlreadyLoaded { .. }
    ));
    assert_eq!(kit::held(&process, &probe), real);
    assert!(has(&real, &pre) && !has(&real, &own), "{real:?}");
}

/// One way to damage or alter a library: a name, what it does to the bytes, and
/// whether glibc still loads the result (checked against the real loader below).
type Damage = (&'static str, fn(&mut Vec<u8>, &Layout), bool);

/// Where the parts of a pristine fixture library are, read with goblin.
struct Layout {
    phoff: usize,
    phnum: usize,
    shoff: usize,
    shnum: usize,
    verneed: usize,
}

impl Layout {
    fn of(bytes: &[u8]) -> Layout {
        let elf = goblin::elf::Elf::parse(bytes).unwrap();
        let verneed = elf
            .section_headers
            .iter()
            .find(|s| s.sh_type == goblin::elf::section_header::SHT_GNU_VERNEED)
            .expect("the fixture needs a glibc symbol version")
            .sh_offset as usize;
        Layout {
            phoff: elf.header.e_phoff as usize,
            phnum: elf.header.e_phnum as usize,
            shoff: elf.header.e_shoff as usize,
            shnum: elf.header.e_shnum as usize,
            verneed,
        }
    }

    /// File offsets of the program headers of type `p_type`.
    fn phdrs(&self, bytes: &[u8], p_type: u32) -> Vec<usize> {
        (0..self.phnum)
            .map(|i| self.phoff + i * 56)
            .filter(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == p_type)
            .collect()
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;

/// Section headers are not read by the loader; everything else here is checked by it.
const DAMAGES: &[Damage] = &[
    (
        "section table past the end",
        |b, _| {
            let len = b.len() as u64;
            put_u64(b, 40, len + (1 << 20))
        },
        true,
    ),
    (
        "section table overwritten",
        |b, l| {
            for (i, byte) in b.iter_mut().enumerate().skip(l.shoff).take(l.shnum * 64) {
                *byte = (i * 37 % 251) as u8;
            }
        },
        true,
    ),
    ("section count 0xffff", |b, _| put_u16(b, 60, 0xffff), true),
    ("section table cut off", |b, l| b.truncate(l.shoff), true),
    ("section entry size 7", |b, _| put_u16(b, 58, 7), true),
    (
        "section name index 0xfffe",
        |b, _| put_u16(b, 62, 0xfffe),
        true,
    ),
    (
        "dynamic segment's file offset wrong",
        |b, l| {
            for at in l.phdrs(b, PT_DYNAMIC) {
                put_u64(b, at + 8, 0x10);
            }
        },
        true,
    ),
    (
        "dynamic segment's sizes wrong",
        |b, l| {
            for at in l.phdrs(b, PT_DYNAMIC) {
                put_u64(b, at + 32, 0x7fff_ffff);
                put_u64(b, at + 40, 0x7fff_ffff);
            }
        },
        true,
    ),
    (
        "GNU OS ABI, ABI version 3",
        |b, _| {
            b[7] = 3;
            b[8] = 3;
        },
        true,
    ),
    (
        "GNU OS ABI, ABI version 4",
        |b, _| {
            b[7] = 3;
            b[8] = 4;
        },
        false,
    ),
    ("System V ABI version 1", |b, _| b[8] = 1, false),
    ("FreeBSD OS ABI", |b, _| b[7] = 9, false),
    ("nonzero identification padding", |b, _| b[12] = 1, false),
    ("identification version 2", |b, _| b[6] = 2, false),
    ("ELF version 2", |b, _| b[20] = 2, false),
    ("big-endian", |b, _| b[5] = 2, false),
    ("unknown data encoding", |b, _| b[5] = 7, false),
    ("ELF32 class", |b, _| b[4] = 1, false),
    ("aarch64 machine", |b, _| put_u16(b, 18, 183), false),
    ("relocatable type", |b, _| put_u16(b, 16, 1), false),
    (
        "program header entry size 55",
        |b, _| put_u16(b, 54, 55),
        false,
    ),
    (
        "program headers past the end",
        |b, _| {
            let len = b.len() as u64;
            put_u64(b, 32, len)
        },
        false,
    ),
    (
        "no dynamic segment",
        |b, l| {
            for at in l.phdrs(b, PT_DYNAMIC) {
                b[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
            }
        },
        false,
    ),
    (
        "no loadable segment",
        |b, l| {
            for at in l.phdrs(b, PT_LOAD) {
                b[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
            }
        },
        false,
    ),
    (
        "cut inside a loadable segment",
        |b, _| b.truncate(0x1800),
        false,
    ),
    (
        "address and offset apart within a page",
        |b, l| {
            let last = *l.phdrs(b, PT_LOAD).last().unwrap();
            let vaddr = u64::from_le_bytes(b[last + 16..last + 24].try_into().unwrap());
            put_u64(b, last + 16, vaddr + 8);
        },
        false,
    ),
    (
        "version need record version 2",
        |b, l| put_u16(b, l.verneed, 2),
        false,
    ),
];

/// Shenzi accepts exactly the objects glibc loads: a library damaged or altered each way
/// of [`DAMAGES`] is loaded by path and found by a search by both the real loader and the
/// resolver, or refused by both; a search skips a candidate both skip (another class or
/// machine) and stops at one both stop at. Section headers are never needed: what the
/// reader says of a library with damaged section headers is what it says of the intact
/// one (needs, SONAME, symbol versions for the glibc floor).
#[test]
fn damaged_headers_are_accepted_or_refused_as_the_loader_does() {
    let kit = Kit::new();
    let src = kit.path("src/libcase.c");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(
        &src,
        "#include <stdio.h>\nint libcase(const char *s) { return puts(s); }\n",
    )
    .unwrap();
    let good = kit.path("good/libcase.so.1");
    std::fs::create_dir_all(good.parent().unwrap()).unwrap();
    kit::gcc(&[
        "-shared",
        "-fPIC",
        src.to_str().unwrap(),
        "-o",
        good.to_str().unwrap(),
        "-Wl,-soname,libcase.so.1",
    ]);
    let user = kit.lib(
        "user/libcase_user.so",
        Lib {
            soname: "libcase_user.so",
            needs: &[&good],
            ..Lib::default()
        },
    );
    let pristine = std::fs::read(&good).unwrap();
    let layout = Layout::of(&pristine);
    let intact = shenzi::binary::parse_object(&pristine).unwrap().unwrap();
    assert!(
        intact
            .version_needs
            .iter()
            .any(|v| v.version == "GLIBC_2.2.5"),
        "{intact:?}"
    );

    let mut wrong = Vec::new();
    for (i, (name, damage, loads)) in DAMAGES.iter().enumerate() {
        let mut bytes = pristine.clone();
        damage(&mut bytes, &layout);
        let path = kit.path(&format!("case{i}/libcase.so.1"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();

        let real = kit.real(&[&path], None);
        let simulated = kit.simulated(&[&path], None);
        if real.is_ok() != *loads {
            wrong.push(format!(
                "{name}: glibc {real:?}, the table says loads={loads}"
            ));
        }
        if real.is_ok() != simulated.is_ok() {
            wrong.push(format!(
                "{name}: by path, glibc {real:?}, shenzi {simulated:?}"
            ));
        }
        // First on the search path, before the intact copy.
        let lp = format!(
            "{}:{}",
            kit.path(&format!("case{i}")).display(),
            kit.path("good").display()
        );
        let real = kit.real(&[&user], Some(&lp));
        let simulated = kit.simulated(&[&user], Some(&lp));
        if real != simulated && !(real.is_err() && simulated.is_err()) {
            wrong.push(format!(
                "{name}: by search, glibc {real:?}, shenzi {simulated:?}"
            ));
        }
        if *loads {
            let info = shenzi::binary::parse_object(&bytes);
            if info.as_ref().ok() != Some(&Some(intact.clone())) {
                wrong.push(format!("{name}: read as {info:?}, intact {intact:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Rule (glibc 2.36, measured): a search candidate that is not a regular file stops the
/// search where the loader stops: a folder ("cannot read file data"), a device
/// (`/dev/null`: "file too short") or a link loop (`ELOOP`); a link to nothing, or a path
/// through a file (`ENOTDIR`), is absent and the search goes on. A FIFO makes the
/// real loader block forever, so only the resolver is asked about it: it stops there.
#[test]
fn special_files_on_the_search_path_stop_or_skip_as_the_loader_does() {
    let kit = Kit::new();
    let good = kit.plain("good/libspecial.so.1", "libspecial.so.1");
    let user = kit.lib(
        "u/libspecial_user.so",
        Lib {
            soname: "libspecial_user.so",
            needs: &[&good],
            ..Lib::default()
        },
    );
    let at = |case: &str| kit.path(&format!("{case}/libspecial.so.1"));
    std::fs::create_dir_all(at("folder")).unwrap();
    std::fs::create_dir_all(kit.path("null")).unwrap();
    std::os::unix::fs::symlink("/dev/null", at("null")).unwrap();
    std::fs::create_dir_all(kit.path("loop")).unwrap();
    std::os::unix::fs::symlink("again", at("loop")).unwrap();
    std::os::unix::fs::symlink("libspecial.so.1", kit.path("loop/again")).unwrap();
    std::fs::create_dir_all(kit.path("dangling")).unwrap();
    std::os::unix::fs::symlink("nowhere", at("dangling")).unwrap();
    std::fs::write(kit.path("afile"), "").unwrap();
    std::fs::create_dir_all(kit.path("fifo")).unwrap();
    let fifo = std::ffi::CString::new(at("fifo").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    for (case, dir, found) in [
        ("folder", kit.path("folder"), false),
        ("/dev/null", kit.path("null"), false),
        ("link loop", kit.path("loop"), false),
        ("path through a file", kit.path("afile"), true),
        ("link to nothing", kit.path("dangling"), true),
    ] {
        let lp = format!("{}:{}", dir.display(), kit.path("good").display());
        let real = kit.real(&[&user], Some(&lp));
        assert_eq!(real.is_ok(), found, "{case}: glibc {real:?}");
        let simulated = kit.simulated(&[&user], Some(&lp));
        assert_eq!(real.ok(), simulated.ok(), "{case}");
    }

    let cache = BinaryCache::new();
    let config = host();
    let object = opened(&cache, &user);
    let lp = shenzi::loader::split_library_path(&format!(
        "{}:{}",
        kit.path("fifo").display(),
        kit.path("good").display()
    ));
    let res = resolve_need(&cache, &config, &object, "libspecial.so.1", &lp);
    assert!(res.found.is_none());
    let (path, reason) = res.unusable.unwrap();
    assert_eq!(path, at("fifo"));
    assert!(reason.contains("wait on it forever"), "{reason}");
}
