//! How the command line talks (issue 14): `--color`, `NO_COLOR` and `CLICOLOR_FORCE` decide
//! whether diagnostics are coloured, and `shenzi completions SHELL` prints a completion
//! script that the shell really completes with. Through the real binary.

mod support;

use support::{describe, shenzi, text};

/// `shenzi ARGS check no/such.shz` (a diagnostic on stderr, into a pipe) with `env`.
fn diagnostic(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = shenzi()
        .args(args)
        .args(["check", "no/such.shz"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("shenzi::layout::unreadable"), "{stderr}");
    stderr
}

#[test]
fn colour_follows_the_flag_then_no_color_then_clicolor_force() {
    let coloured = |s: &str| s.contains("\x1b[");
    // Into a pipe: plain unless forced.
    assert!(!coloured(&diagnostic(&[], &[])));
    assert!(coloured(&diagnostic(&["--color", "always"], &[])));
    assert!(coloured(&diagnostic(&[], &[("CLICOLOR_FORCE", "1")])));
    assert!(!coloured(&diagnostic(&[], &[("CLICOLOR_FORCE", "0")])));
    assert!(!coloured(&diagnostic(
        &[],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
    )));
    // The flag wins over both variables, and works after the subcommand too.
    assert!(coloured(&diagnostic(
        &["--color", "always"],
        &[("NO_COLOR", "1")]
    )));
    assert!(!coloured(&diagnostic(
        &["--color", "never"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    let out = shenzi()
        .args(["check", "no/such.shz", "--color", "always"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(coloured(&text(&out.stderr)), "{}", describe(&out));
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_script() {
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no bash on this machine");
        return;
    }
    let script = shenzi().args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success(), "{}", describe(&script));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shenzi.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    // Bash's completion protocol by hand: the words so far, the index of the one being
    // completed, and the function the script registered with `complete -F`.
    let complete = |words: &str, index: usize, word: &str, previous: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}' && complete -p shenzi >/dev/null && COMP_WORDS=({words}) && COMP_CWORD={index} && _shenzi shenzi '{word}' '{previous}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        text(&out.stdout)
    };
    let subcommands = complete("shenzi in", 1, "in", "shenzi");
    assert_eq!(
        subcommands.lines().collect::<Vec<_>>(),
        ["init"],
        "{subcommands}"
    );
    let flags = complete("shenzi build --exi", 2, "--exi", "build");
    assert_eq!(
        flags.lines().collect::<Vec<_>>(),
        ["--exit-code"],
        "{flags}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = shenzi().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", describe(&out));
        assert!(text(&out.stdout).contains("build"), "{shell}");
    }
}

/// `-q` leaves only errors on stderr; `-v` adds what the plan does with each file.
#[test]
fn quiet_prints_only_errors_and_verbose_each_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "import json\nprint(json.dumps('hi'))\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        shenzi()
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let py = support::python311();
    let py = py.to_str().unwrap();
    let out = run(&["-q", "trace", "-o", "m.json", "--", py, "app.py"]);
    assert!(out.status.success(), "{}", describe(&out));
    // The app's own output is the app's: `-q` is about shenzi's.
    assert_eq!(text(&out.stdout), "\"hi\"\n");
    assert_eq!(text(&out.stderr), "", "{}", describe(&out));

    let out = run(&["apply", "default", "m.json", "-o", "normal"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("shenzi: wrote "),
        "{}",
        describe(&out)
    );

    let out = run(&["apply", "default", "m.json", "-o", "quiet", "--quiet"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stderr), "", "{}", describe(&out));
    assert!(dir.path().join("quiet/bin/app").is_file());

    let out = run(&["-v", "apply", "default", "m.json", "-o", "verbose"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    let decoder = stderr
        .lines()
        .find(|l| l.starts_with("shenzi: stdlib: python/lib/python3.11/json/decoder.py ← "))
        .unwrap_or_else(|| panic!("no line for json/decoder.py in:\n{stderr}"));
    assert!(
        decoder.ends_with("/lib/python3.11/json/decoder.py"),
        "{decoder}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("shenzi: entry: app/app.py ← ")),
        "{stderr}"
    );
    assert!(stderr.contains("shenzi: wrote "), "{stderr}");

    // Errors stay under `-q`.
    let out = run(&[
        "-q",
        "apply",
        "default",
        "m.json",
        "-o",
        "no/such/parent/dist",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_ne!(text(&out.stderr), "");
    // A check with warnings only: shown, or silent under `-q`; failing with
    // `--deny-warnings`, shown under `-q` too.
    let out = run(&["check", "default", "m.json"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text(&out.stderr).contains("warning"), "{}", describe(&out));
    let out = run(&["-q", "check", "default", "m.json"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stderr), "", "{}", describe(&out));
    let out = run(&["-q", "check", "default", "m.json", "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stderr).contains("warning"), "{}", describe(&out));

    let out = run(&["-q", "-v", "check", "default"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
