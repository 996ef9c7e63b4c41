//! How diagnostics look: graphical with colour on a terminal, plain text otherwise, and
//! never colour when `NO_COLOR` is set. Every report goes through
//! [`crate::layout::shown`] first: what came from the input is escaped, and each
//! diagnostic prints a bounded amount.

use std::fmt;
use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalTheme, MietteHandlerOpts, ReportHandler};

use crate::layout::shown::shown;

pub fn install() {
    let terminal = std::io::stderr().is_terminal();
    let colour = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = miette::set_hook(Box::new(move |_| {
        let opts = MietteHandlerOpts::new()
            .terminal_links(false)
            .color(colour)
            .unicode(terminal);
        let opts = if terminal {
            opts
        } else {
            opts.graphical_theme(GraphicalTheme::none()).width(100)
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
