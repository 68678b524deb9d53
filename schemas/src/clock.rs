//! The ingest clock, read once per input.
//!
//! Every input is judged against the time it was received (`future_timestamp`
//! allows minutes of skew, `expired` compares days), so millisecond precision
//! buys nothing, while a precise clock read costs about a tenth of a microsecond
//! per event on a virtual machine. Linux keeps a coarse wall clock, updated at
//! every timer tick (a few milliseconds), that costs a memory read; elsewhere
//! this is chrono's precise clock.

use chrono::{DateTime, Utc};

/// The current time, at most one timer tick (a few milliseconds) old.
///
/// Read through the C library, which finds the kernel's clock page the way
/// every tool expects (rustix's own lookup crashes under valgrind).
#[cfg(target_os = "linux")]
pub fn received_now() -> DateTime<Utc> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
    if status != 0 {
        return Utc::now();
    }
    DateTime::from_timestamp(now.tv_sec, now.tv_nsec as u32).unwrap_or_else(Utc::now)
}

/// The current time.
#[cfg(not(target_os = "linux"))]
pub fn received_now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lies_within_a_second_of_the_precise_clock() {
        let before = Utc::now();
        let coarse = received_now();
        let after = Utc::now();
        let second = chrono::TimeDelta::seconds(1);
        assert!(
            before - second <= coarse && coarse <= after + second,
            "{before} ≤ {coarse} ≤ {after}, give or take a second"
        );
    }
}
