//! How diagnostics look: graphical with colour on a terminal, plain text otherwise;
//! `--color`, `NO_COLOR` and `CLICOLOR_FORCE` decide the colour ([`colour`]). Every report goes through
//! [`crate::layout::shown`] first: what came from the input is escaped, and each
//! diagnostic prints a bounded amount.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

use miette::{Diagnostic, GraphicalTheme, MietteHandlerOpts, ReportHandler};

use crate::layout::shown::shown;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Whether diagnostics get colour: the flag, else `NO_COLOR` (set and not empty: never),
/// else `CLICOLOR_FORCE` (set and not `0`: always), else whether stderr is a terminal.
fn colour(color: Color, terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto if set("NO_COLOR").is_some() => false,
        Color::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        Color::Auto => terminal,
    }
}

pub fn install(color: Color) {
    let terminal = std::io::stderr().is_terminal();
    let colour = colour(color, terminal);
    let _ = miette::set_hook(Box::new(move |_| {
        let opts = MietteHandlerOpts::new()
            .terminal_links(false)
            .color(colour)
            .unicode(terminal);
        let opts = match (terminal, colour) {
            (true, _) => opts,
            // Forced colour into a pipe: the coloured theme, in ASCII.
            (false, true) => opts.graphical_theme(GraphicalTheme::ascii()).width(100),
            (false, false) => opts.graphical_theme(GraphicalTheme::none()).width(100),
        };
        Box::new(Escaping(Box::new(opts.build())))
    }));
}

/// Renders a safe copy of each report with the handler it wraps.
struct Escaping(Box<dyn ReportHandler>);

impl ReportHandler for Escaping {
    fn debug(&self, diagnostic: &dyn Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(&shown(diagnostic), f)
    }
}

/// How much shenzi tells on stderr: `-q` only errors, `-v` also per-file decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

/// Set once by [`set_verbosity`] before a command runs; read by [`say!`].
static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

pub fn set_verbosity(verbosity: Verbosity) {
    VERBOSITY.store(verbosity as u8, Ordering::Relaxed);
}

/// `-q`: only errors are printed.
pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) == Verbosity::Quiet as u8
}

/// `-v`: per-file decisions too.
pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) == Verbosity::Verbose as u8
}

/// `eprintln!` for what is not an error (summaries, notes, warnings): silent under `-q`.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::cli::render::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use say;
