//! The miette plumbing of a report over one layout's text: the layout's report and the
//! plan's report are both a `src` and a list of `diagnostics`, shown as `related` entries.

/// Implements `std::error::Error` and `miette::Diagnostic` for a report with fields
/// `src: NamedSource<String>` and `diagnostics: Vec<impl miette::Diagnostic>` and a method
/// `errors()`: the report is an error if any diagnostic is, else a warning.
macro_rules! report_diagnostic {
    ($report:ty, $code:literal) => {
        impl std::error::Error for $report {}

        impl miette::Diagnostic for $report {
            fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
                Some(Box::new($code))
            }

            fn severity(&self) -> Option<miette::Severity> {
                Some(if self.errors() > 0 {
                    miette::Severity::Error
                } else {
                    miette::Severity::Warning
                })
            }

            fn source_code(&self) -> Option<&dyn miette::SourceCode> {
                Some(&self.src)
            }

            fn related<'a>(
                &'a self,
            ) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
                Some(Box::new(
                    self.diagnostics
                        .iter()
                        .map(|d| d as &dyn miette::Diagnostic),
                ))
            }
        }
    };
}

pub(crate) use report_diagnostic;
