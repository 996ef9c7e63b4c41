use std::process::ExitCode;

use super::render::say;
use clap::{Args, Subcommand};

use crate::onefile::{CACHE_VARIABLE, CacheEntry, cache_entries, cache_roots, clear_cache};

/// List or clear the folders onefiles extracted themselves into.
///
/// A onefile extracts its dist on its first start into `$SHENZI_CACHE_DIR`, or
/// `$XDG_CACHE_HOME/shenzi`, or `~/.cache/shenzi`, and into `$TMPDIR/shenzi-UID` when that
/// cannot be written; one folder per payload, named by its hash. Later starts reuse it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  shenzi cache list\n  shenzi cache clear")]
pub struct CacheArgs {
    #[command(subcommand)]
    action: CacheAction,
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Print each extraction: its folder, size, app and whether it is complete.
    List,
    /// Remove every extraction (an app running from one may fail on its next import:
    /// quit them first); the next start of each onefile extracts again.
    Clear,
}

pub fn run(args: CacheArgs) -> miette::Result<ExitCode> {
    match args.action {
        CacheAction::List => {
            let entries = cache_entries();
            let roots: Vec<String> = cache_roots()
                .iter()
                .map(|r| format!("`{}`", r.display()))
                .collect();
            if entries.is_empty() {
                say!(
                    "shenzi: no onefile extractions in {} (`{CACHE_VARIABLE}` chooses the folder)",
                    roots.join(" or ")
                );
            }
            for entry in &entries {
                println!("{}", line(entry));
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheAction::Clear => {
            let removed = clear_cache()?;
            let bytes: u64 = removed.iter().map(|e| e.bytes).sum();
            say!(
                "shenzi: removed {} extraction(s), {:.1} MB",
                removed.len(),
                bytes as f64 / 1e6
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `PATH  SIZE  APP  STATE`, tab-separated for scripts.
fn line(entry: &CacheEntry) -> String {
    format!(
        "{}\t{:.1} MB\t{}\t{}",
        entry.path.display(),
        entry.bytes as f64 / 1e6,
        entry.app.as_deref().unwrap_or("?"),
        if entry.complete {
            "complete"
        } else {
            "unfinished"
        }
    )
}
