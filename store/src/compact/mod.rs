//! Compaction: the small files writers leave in each partition merged into
//! fewer, larger ones, without adding, losing or changing a row.
//!
//! Two rules decide what is merged, and both merge through
//! [`merge_files`], which commits only if its inputs are still there:
//! - [`continuous`]: right after each commit, a writer merges the small
//!   files of the partitions it just wrote once a size class fills up, so
//!   a live stream's partitions keep few files;
//! - [`scheduled`]: on the lifecycle schedule, partitions old enough to be
//!   complete are packed into files of the target size.

mod continuous;
mod merge;
mod scheduled;

pub(crate) use continuous::merge_full_classes;
pub use continuous::{DEFAULT_FAN_IN, DEFAULT_TARGET_BYTES, MergePolicy};
pub use merge::{Merged, merge_files};
pub use scheduled::{Compacted, DEFAULT_COMPACT_AFTER_DAYS, compact};
