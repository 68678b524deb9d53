//! What the rules are decided on, read from the store in a few SQL
//! statements: the AI usage that may break a rule ([`crate::suspects`]),
//! grouped by day and by every field a rule reads (so a year of events
//! becomes the rows a person could review), the AI-assisted pull requests
//! merged in the range, and the reviews of them.

use std::sync::Arc;

use aitrail_query::QueryError;
use aitrail_query::engine::StoreSession;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::NaiveDate;
use datafusion::common::ScalarValue;

use crate::policy::{GovernancePolicy, Rule};
use crate::suspects::{self, SUSPECT_USAGE, day_value};

/// AI usage of one day sharing every field a rule reads. Its text is
/// shared: read from the store, each distinct name is held once however
/// many groups carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    /// The UTC day.
    pub day: NaiveDate,
    /// The organization.
    pub org_id: Arc<str>,
    /// The user.
    pub user_id: Arc<str>,
    /// The team.
    pub team: Option<Arc<str>>,
    /// The tool.
    pub tool: Arc<str>,
    /// The model.
    pub model: Arc<str>,
    /// The repository.
    pub repository: Option<Arc<str>>,
    /// The data class (`internal` when the event gave none).
    pub data_class: Arc<str>,
    /// The domain the event gave.
    pub domain: Option<Arc<str>>,
    /// How many events.
    pub events: u64,
    /// The first event's time (µs since the epoch) and id.
    pub first_at: i64,
    /// The first event's id.
    pub first_event_id: Arc<str>,
    /// The last event's time (µs since the epoch).
    pub last_at: i64,
    /// The last event's id.
    pub last_event_id: Arc<str>,
}

/// An AI-assisted pull request merged in the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedChange {
    /// The event's id.
    pub event_id: String,
    /// When it merged (µs since the epoch).
    pub occurred_at: i64,
    /// The UTC day it merged.
    pub day: NaiveDate,
    /// The organization.
    pub org_id: String,
    /// The change.
    pub change_id: String,
    /// The repository.
    pub repository: String,
    /// The author.
    pub user_id: String,
    /// The team.
    pub team: Option<String>,
    /// The domain the event gave.
    pub domain: Option<String>,
    /// Reviewers the event names.
    pub reviewer_ids: Vec<String>,
}

/// A review of one of the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The change reviewed.
    pub change_id: String,
    /// Its repository.
    pub repository: String,
    /// The reviewer.
    pub user_id: String,
    /// `approved`, `changes_requested`, `commented` or `dismissed`.
    pub state: String,
    /// When (µs since the epoch).
    pub occurred_at: i64,
}

/// Everything the rules read for one range of days: the usage only where
/// it may break a usage rule.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Usage that may break a rule, grouped by day and the fields the rules
    /// read.
    pub usage: Vec<UsageGroup>,
    /// The AI-assisted pull requests merged.
    pub changes: Vec<MergedChange>,
    /// Their reviews up to the range's end.
    pub reviews: Vec<Review>,
}

/// AI usage grouped by day and every field a rule reads; `{SUSPECT_USAGE}`
/// stands for the suspect usage's table.
const USAGE: &str = "SELECT date, org_id, user_id, team, tool, model, repository, \
    COALESCE(data_class, 'internal') AS data_class, domain, count(*) AS events, \
    min(occurred_at) AS first_at, \
    first_value(event_id ORDER BY occurred_at, event_id) AS first_event_id, \
    max(occurred_at) AS last_at, \
    last_value(event_id ORDER BY occurred_at, event_id) AS last_event_id \
    FROM {SUSPECT_USAGE} \
    GROUP BY date, org_id, user_id, team, tool, model, repository, \
    COALESCE(data_class, 'internal'), domain";

/// The AI-assisted pull requests merged in the range, each with every
/// review of it up to the range's end (a row per review; one with none
/// when it has none): one scan of `code_changes` serves both.
const CHANGES_AND_REVIEWS: &str = "SELECT c.event_id, c.occurred_at, c.date, c.org_id, \
    c.change_id, c.repository, c.user_id, c.team, c.domain, \
    array_to_string(c.reviewer_ids, '\n') AS reviewers, \
    r.user_id AS reviewer, r.state, r.occurred_at AS reviewed_at \
    FROM (SELECT * FROM code_changes \
          WHERE kind = 'pull_request' AND ai_assisted AND date >= $from AND date < $to) c \
    LEFT JOIN (SELECT change_id, repository, user_id, state, occurred_at \
               FROM code_reviews WHERE date < $to) r \
    ON r.change_id = c.change_id AND r.repository = c.repository";

impl Evidence {
    /// Reads what the rules of `policy` need for `from` (inclusive) to
    /// `to` (exclusive) from `session`; only what `rule` reads when one is
    /// given.
    pub async fn read(
        session: &StoreSession,
        policy: &GovernancePolicy,
        from: NaiveDate,
        to: NaiveDate,
        rule: Option<Rule>,
    ) -> Result<Evidence, QueryError> {
        let reads_usage = rule.is_none_or(Rule::reads_usage);
        let reads_changes = rule.is_none_or(|rule| rule == Rule::UnreviewedAiChange);
        let params = vec![("from", day_value(from)), ("to", day_value(to))];
        let usage = async {
            if !reads_usage {
                return Ok(Vec::new());
            }
            suspects::register(session, policy, from, to).await?;
            usage(session).await
        };
        let changes = async {
            match reads_changes {
                true => changes_and_reviews(session, params).await,
                false => Ok((Vec::new(), Vec::new())),
            }
        };
        let (usage, (changes, reviews)) = futures::try_join!(usage, changes)?;
        Ok(Evidence {
            usage,
            changes,
            reviews,
        })
    }
}

/// The AI-assisted pull requests merged in the range and their reviews
/// (see [`CHANGES_AND_REVIEWS`]).
async fn changes_and_reviews(
    session: &StoreSession,
    params: Vec<(&str, ScalarValue)>,
) -> Result<(Vec<MergedChange>, Vec<Review>), QueryError> {
    let mut changes = Vec::new();
    let mut reviews = Vec::new();
    let mut seen: foldhash::HashSet<String> = foldhash::HashSet::default();
    session
        .query_within_report(CHANGES_AND_REVIEWS, params, |batch| {
            let columns = Columns::of(&batch)?;
            for row in 0..batch.num_rows() {
                let event_id = columns.text_ref(0, row)?;
                if let Some(reviewer) = columns.optional_text(10, row) {
                    reviews.push(Review {
                        change_id: columns.text(4, row)?,
                        repository: columns.text(5, row)?,
                        user_id: reviewer,
                        state: columns.text(11, row)?,
                        occurred_at: columns.micros(12, row)?,
                    });
                }
                if seen.contains(event_id) {
                    continue;
                }
                seen.insert(event_id.to_string());
                changes.push(MergedChange {
                    event_id: event_id.to_string(),
                    occurred_at: columns.micros(1, row)?,
                    day: columns.date(2, row)?,
                    org_id: columns.text(3, row)?,
                    change_id: columns.text(4, row)?,
                    repository: columns.text(5, row)?,
                    user_id: columns.text(6, row)?,
                    team: columns.optional_text(7, row),
                    domain: columns.optional_text(8, row),
                    reviewer_ids: columns
                        .optional_text(9, row)
                        .map(|text| {
                            text.split('\n')
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Ok(())
        })
        .await?;
    Ok((changes, reviews))
}

/// The suspect usage, grouped (see [`USAGE`]).
async fn usage(session: &StoreSession) -> Result<Vec<UsageGroup>, QueryError> {
    let sql = USAGE.replace("{SUSPECT_USAGE}", SUSPECT_USAGE);
    let mut names = Names::default();
    rows(session, &sql, Vec::new(), |columns, row| {
        Ok(UsageGroup {
            day: columns.date(0, row)?,
            org_id: names.required(columns, 1, row)?,
            user_id: names.required(columns, 2, row)?,
            team: names.optional(columns, 3, row),
            tool: names.required(columns, 4, row)?,
            model: names.required(columns, 5, row)?,
            repository: names.optional(columns, 6, row),
            data_class: names.required(columns, 7, row)?,
            domain: names.optional(columns, 8, row),
            events: columns.count(9, row)?,
            first_at: columns.micros(10, row)?,
            first_event_id: Arc::from(columns.text_ref(11, row)?),
            last_at: columns.micros(12, row)?,
            last_event_id: Arc::from(columns.text_ref(13, row)?),
        })
    })
    .await
}

/// Each row of `sql` with `params`, read by `read` batch by batch as the
/// statement yields them.
async fn rows<T>(
    session: &StoreSession,
    sql: &str,
    params: Vec<(&str, ScalarValue)>,
    mut read: impl FnMut(&Columns, usize) -> Result<T, QueryError>,
) -> Result<Vec<T>, QueryError> {
    let mut rows = Vec::new();
    session
        .query_within_report(sql, params, |batch| {
            let columns = Columns::of(&batch)?;
            for row in 0..batch.num_rows() {
                rows.push(read(&columns, row)?);
            }
            Ok(())
        })
        .await?;
    Ok(rows)
}

/// One shared copy of each name (organization, person, team, tool,
/// model, repository, class, domain): a year of usage groups repeats a
/// few thousand names millions of times.
#[derive(Default)]
struct Names(foldhash::HashSet<Arc<str>>);

impl Names {
    fn shared(&mut self, text: &str) -> Arc<str> {
        if let Some(known) = self.0.get(text) {
            return Arc::clone(known);
        }
        let name: Arc<str> = Arc::from(text);
        self.0.insert(Arc::clone(&name));
        name
    }

    fn optional(&mut self, columns: &Columns, column: usize, row: usize) -> Option<Arc<str>> {
        columns
            .optional_text_ref(column, row)
            .map(|text| self.shared(text))
    }

    fn required(
        &mut self,
        columns: &Columns,
        column: usize,
        row: usize,
    ) -> Result<Arc<str>, QueryError> {
        Ok(self.shared(columns.text_ref(column, row)?))
    }
}

/// A batch's columns, text ones cast to plain UTF-8 once (the store may
/// hand views or dictionaries).
struct Columns {
    columns: Vec<ArrayRef>,
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Columns, QueryError> {
        let columns = batch
            .columns()
            .iter()
            .map(|column| match column.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(..) => {
                    cast(column, &DataType::Utf8)
                        .map_err(|err| QueryError::Invalid(format!("governance evidence: {err}")))
                }
                _ => Ok(Arc::clone(column)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Columns { columns })
    }

    fn missing(&self, column: usize) -> QueryError {
        QueryError::Invalid(format!(
            "governance evidence: column {column} is null or of an unexpected type"
        ))
    }

    fn optional_text_ref(&self, column: usize, row: usize) -> Option<&str> {
        let array = self.columns[column].as_string_opt::<i32>()?;
        array.is_valid(row).then(|| array.value(row))
    }

    fn text_ref(&self, column: usize, row: usize) -> Result<&str, QueryError> {
        self.optional_text_ref(column, row)
            .ok_or_else(|| self.missing(column))
    }

    fn optional_text(&self, column: usize, row: usize) -> Option<String> {
        self.optional_text_ref(column, row).map(str::to_string)
    }

    fn text(&self, column: usize, row: usize) -> Result<String, QueryError> {
        Ok(self.text_ref(column, row)?.to_string())
    }

    fn date(&self, column: usize, row: usize) -> Result<NaiveDate, QueryError> {
        self.columns[column]
            .as_primitive_opt::<Date32Type>()
            .filter(|array| array.is_valid(row))
            .and_then(|array| NaiveDate::from_epoch_days(array.value(row)))
            .ok_or_else(|| self.missing(column))
    }

    fn count(&self, column: usize, row: usize) -> Result<u64, QueryError> {
        self.columns[column]
            .as_primitive_opt::<Int64Type>()
            .filter(|array| array.is_valid(row))
            .and_then(|array| u64::try_from(array.value(row)).ok())
            .ok_or_else(|| self.missing(column))
    }

    fn micros(&self, column: usize, row: usize) -> Result<i64, QueryError> {
        let array = &self.columns[column];
        match array.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                let array = array.as_primitive::<TimestampMicrosecondType>();
                array
                    .is_valid(row)
                    .then(|| array.value(row))
                    .ok_or_else(|| self.missing(column))
            }
            _ => Err(self.missing(column)),
        }
    }
}
