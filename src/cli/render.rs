//! How diagnostics look: graphical with colour on a terminal, plain text otherwise, and
//! never colour when `NO_COLOR` is set.

use std::io::IsTerminal;

use miette::{GraphicalTheme, MietteHandlerOpts};

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
        Box::new(opts.build())
    }));
}
