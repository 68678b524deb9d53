//! Exponential backoff for retrying what an unreachable broker or store
//! refused: the ingest waits and tries again rather than crash or drop.

use std::time::Duration;

/// Waits twice as long after each failure, from 100 ms up to 30 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

const FIRST: Duration = Duration::from_millis(100);
const LONGEST: Duration = Duration::from_secs(30);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// Sleeps the current delay and doubles the next one.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(LONGEST);
    }
}
