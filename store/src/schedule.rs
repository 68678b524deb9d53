//! Running a job on a cron schedule inside a long-running process (`aitrail
//! retention daemon`, `aitrail serve`, `aitrail dev`): the retention purge and
//! compaction of DESIGN §5, at the times the `[retention] schedule` names.

use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A cron expression that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("`{expression}` is not a cron expression: {problem}")]
pub struct ScheduleError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong with it.
    pub problem: String,
}

/// When a job runs: a cron expression of five fields (minute hour
/// day-of-month month day-of-week, UTC) or six (seconds first).
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|err| ScheduleError {
                expression: expression.to_string(),
                problem: err.to_string(),
            })?;
        Ok(Schedule { cron })
    }
}

impl Schedule {
    /// The first time strictly after `after` the schedule fires, if any.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }

    /// Calls `job` at every time the schedule fires until `shutdown`
    /// completes; a job already running is finished first. A job that takes
    /// longer than the interval skips the times it overran rather than
    /// running back to back. A job's failure is the job's to report: the
    /// schedule goes on.
    pub async fn run<J, F>(&self, shutdown: impl Future<Output = ()>, mut job: J)
    where
        J: FnMut(DateTime<Utc>) -> F,
        F: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        let mut after = Utc::now();
        loop {
            let Some(next) = self.next_after(after) else {
                tracing::warn!("the schedule fires no more");
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
            job(next).await;
            after = Utc::now().max(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_expressions_parse_and_fire_when_they_say() {
        let daily: Schedule = "0 3 * * *".parse().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-05-01T03:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            daily.next_after(at).unwrap().to_rfc3339(),
            "2026-05-02T03:00:00+00:00"
        );
        let every_second: Schedule = "* * * * * *".parse().unwrap();
        assert_eq!((every_second.next_after(at).unwrap() - at).num_seconds(), 1);
    }

    #[test]
    fn a_bad_expression_is_named() {
        let err = "0 25 * * *".parse::<Schedule>().unwrap_err();
        assert!(err.to_string().starts_with("`0 25 * * *`"), "{err}");
    }
}
