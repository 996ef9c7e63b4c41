//! The interpreter flags a launcher may pass, by their layout names. Apart from the
//! model so that the diagnostics listing them do not import the model (a cycle).

/// Interpreter flags the launcher passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `-s`: no user site dir.
    NoUserSite,
    /// `-E`: ignore `PYTHON*` variables.
    IgnoreEnvironment,
    /// `-I`: isolated mode (implies `-s -E` and `-P`).
    Isolated,
    /// `-B`: write no `.pyc` files.
    NoBytecode,
    /// `-u`: unbuffered output.
    Unbuffered,
    /// `-P`: do not put the script's folder or cwd first on `sys.path` (3.11+).
    SafePath,
}

impl Flag {
    pub const ALL: &'static [Flag] = &[
        Flag::NoUserSite,
        Flag::IgnoreEnvironment,
        Flag::Isolated,
        Flag::NoBytecode,
        Flag::Unbuffered,
        Flag::SafePath,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flag::NoUserSite => "no-user-site",
            Flag::IgnoreEnvironment => "ignore-environment",
            Flag::Isolated => "isolated",
            Flag::NoBytecode => "no-bytecode",
            Flag::Unbuffered => "unbuffered",
            Flag::SafePath => "safe-path",
        }
    }

    /// The interpreter option it becomes.
    pub fn option(self) -> &'static str {
        match self {
            Flag::NoUserSite => "-s",
            Flag::IgnoreEnvironment => "-E",
            Flag::Isolated => "-I",
            Flag::NoBytecode => "-B",
            Flag::Unbuffered => "-u",
            Flag::SafePath => "-P",
        }
    }
}
