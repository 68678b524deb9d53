//! Exit codes of DESIGN §7: 0 ok, 1 some input rejected, 2 usage or
//! configuration error.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything was accepted.
    Ok,
    /// The command ran, but some input was rejected.
    Rejected,
    /// The command could not run as asked: bad usage or configuration.
    Usage,
    /// Something failed while running (I/O, the store).
    Failure,
}

/// An error that is the user's to fix: a bad flag value, a missing file, a
/// configuration mistake. It ends the command with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl ExitCode {
    /// The exit code for an error that ended a command.
    pub fn from_error(err: &anyhow::Error) -> Self {
        if err.downcast_ref::<UsageError>().is_some() {
            ExitCode::Usage
        } else {
            ExitCode::Failure
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(match code {
            ExitCode::Ok => 0,
            ExitCode::Rejected => 1,
            ExitCode::Usage => 2,
            ExitCode::Failure => 3,
        })
    }
}
