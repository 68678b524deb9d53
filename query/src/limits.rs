//! What one query may spend: memory, time and rows. Each limit has its own
//! error, so that a user learns which one was hit and what it is.

use std::time::Duration;

/// The per-query limits of `[server]` (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Bytes the query's operators may hold (hash tables, sorts); `None`
    /// leaves memory unbounded.
    pub memory_bytes: Option<usize>,
    /// Time from planning to the last row; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// Rows a result may have; a bigger one is refused rather than cut, so
    /// nobody mistakes a truncated answer for the whole.
    pub max_rows: Option<usize>,
}

impl Limits {
    /// No limit at all: the command line, whose user can read the store's
    /// files anyway.
    pub const NONE: Limits = Limits {
        memory_bytes: None,
        timeout: None,
        max_rows: None,
    };
}
