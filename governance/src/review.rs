//! The quarterly review pack (DESIGN §10): the sections a governance board
//! reviews each quarter, gathered from the store and the policy into
//! [`Pack`] by the `review` report (`GET /v1/reports/review?quarter=`,
//! `aitrail review`), which [`crate::pack_html`] writes as one
//! self-contained HTML file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use std::sync::Arc;

use aitrail_query::engine::StoreSession;
use aitrail_query::output::json_rows;
use aitrail_query::reports::daily_sums::Kind;
use aitrail_query::reports::params::quarter_range;
use aitrail_query::reports::{self, PlanOutput, Report, ReportAnswer, ReportParams, Reports};
use aitrail_query::{Answer, QueryError, Role};
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{Datelike, Days, Months, NaiveDate};
use datafusion::common::ScalarValue;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evidence::Evidence;
use crate::exceptions::state;
use crate::findings::{Filter, Finding, Status, findings};
use crate::policy::{GovernancePolicy, REVIEW_INTERVAL_DAYS, Rule};
use crate::required;

/// A calendar quarter, `2026Q3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarter {
    /// The year.
    pub year: i32,
    /// 1 to 4.
    pub number: u32,
}

impl Quarter {
    /// Parses `2026Q3` (or `2026-Q3`); the error says what is expected.
    pub fn parse(text: &str) -> Result<Quarter, String> {
        let (start, _) = quarter_range(text)
            .ok_or_else(|| format!("`{text}` is not a quarter such as 2026Q3"))?;
        Ok(Quarter {
            year: start.year(),
            number: start.month0() / 3 + 1,
        })
    }

    /// Its first day.
    pub fn start(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, 3 * self.number - 2, 1).expect("a checked quarter")
    }

    /// The first day after it.
    pub fn end(self) -> NaiveDate {
        self.start() + Months::new(3)
    }

    /// The quarter before it.
    pub fn previous(self) -> Quarter {
        match self.number {
            1 => Quarter {
                year: self.year - 1,
                number: 4,
            },
            n => Quarter {
                year: self.year,
                number: n - 1,
            },
        }
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.number)
    }
}

/// One section's table: column names and rows of cells as text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one text per column.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The rows of a JSON answer, in the columns given.
    fn of_json(rows: &[Value], columns: &[&str]) -> Table {
        let mut table = Table::new(columns);
        for row in rows {
            table.push(columns.iter().map(|c| cell(&row[*c])).collect());
        }
        table
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A chart: a title and labelled values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Series {
    /// What the values are.
    pub title: String,
    /// Label and value, in order.
    pub points: Vec<(String, f64)>,
}

/// One section of the pack.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Section {
    /// Its heading.
    pub title: String,
    /// A sentence or two above it.
    pub note: String,
    /// A chart, when it has one.
    pub chart: Option<Series>,
    /// Its tables.
    pub tables: Vec<(String, Table)>,
}

/// The whole pack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pack {
    /// The quarter reviewed.
    pub quarter: Quarter,
    /// Its sections, in the order DESIGN §10 lists them.
    pub sections: Vec<Section>,
}

/// The review report over the policy it was made with.
pub struct Review {
    policy: Option<Arc<GovernancePolicy>>,
}

impl Review {
    /// The pack of `policy` (without one, it answers that a policy is
    /// needed).
    pub fn new(policy: Option<Arc<GovernancePolicy>>) -> Review {
        Review { policy }
    }
}

/// The media type the pack is also answered in.
pub const HTML: &str = "text/html";

/// The incidents report, whose rows and daily sums the pack uses.
fn incidents_report() -> Result<Arc<dyn Report>, QueryError> {
    Reports::builtin()
        .named("incidents")
        .cloned()
        .ok_or_else(|| QueryError::Invalid("no incidents report".to_string()))
}

impl Report for Review {
    fn name(&self) -> &'static str {
        "review"
    }

    fn about(&self) -> &'static str {
        "the quarterly governance review pack (quarter=2026Q3); JSON, or the HTML pack with \
         Accept: text/html (needs a policy)"
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["quarter"]
    }

    fn allows(&self, role: Role, _: &ReportParams) -> Result<(), String> {
        match role {
            Role::Compliance => Ok(()),
            Role::Leadership => Err("the review pack is for compliance tokens".to_string()),
        }
    }

    fn sums(&self, params: &ReportParams) -> Vec<Kind> {
        incidents_report().map_or_else(|_| Vec::new(), |report| report.sums(params))
    }

    fn media_types(&self) -> &'static [&'static str] {
        &[HTML]
    }

    fn render(&self, _media_type: &str, answer: &ReportAnswer) -> Result<Vec<u8>, String> {
        let pack: Pack = answer
            .summary
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|err| err.to_string())?
            .ok_or("no pack to render")?;
        let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(crate::pack_html::render(&pack, &generated).into_bytes())
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        _k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let policy = required(self.policy.as_deref(), "the review pack")?;
            let quarter = params
                .other("quarter")
                .ok_or_else(|| QueryError::Invalid("quarter: required, e.g. 2026Q3".to_string()))
                .and_then(|text| Quarter::parse(text).map_err(QueryError::Invalid))?;
            let pack = gather(session, policy, params, quarter).await?;
            let rows = section_rows(&pack).map_err(|err| QueryError::Invalid(err.to_string()))?;
            let summary =
                serde_json::to_value(&pack).map_err(|err| QueryError::Invalid(err.to_string()))?;
            Ok((rows, Some(summary)))
        }
        .boxed()
    }
}

/// One row per section: its number, title and how many table rows it has.
fn section_rows(pack: &Pack) -> Result<Answer, arrow::error::ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("section", DataType::Int64, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(1..=pack.sections.len() as i64)),
        Arc::new(StringArray::from_iter_values(
            pack.sections.iter().map(|s| s.title.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(pack.sections.iter().map(
            |s| {
                s.tables
                    .iter()
                    .map(|(_, t)| t.rows.len() as i64)
                    .sum::<i64>()
            },
        ))),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Answer {
        schema,
        batches: vec![batch],
    })
}

/// Gathers the pack of `quarter` from `session`, which has the incidents
/// report's daily sums for `params` (the quarter's days) registered.
async fn gather(
    session: &StoreSession,
    policy: &GovernancePolicy,
    params: &ReportParams,
    quarter: Quarter,
) -> Result<Pack, QueryError> {
    let (from, to) = (quarter.start(), quarter.end());
    let evidence = Evidence::read(session, policy, from, to, None).await?;
    let found = findings(policy, &evidence, from, to, &Filter::default());
    let sections = vec![
        approved_tools(session, policy, from, to).await?,
        domains(session, policy, from, to).await?,
        findings_section(&found),
        exceptions_section(policy, &found, to),
        incidents(session, params).await?,
        adoption(session, from, to).await?,
        review_load(session, quarter).await?,
    ];
    Ok(Pack { quarter, sections })
}

async fn rows(
    session: &StoreSession,
    sql: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Value>, QueryError> {
    let params = vec![
        ("from", ScalarValue::Date32(Some(from.to_epoch_days()))),
        ("to", ScalarValue::Date32(Some(to.to_epoch_days()))),
    ];
    let answer = session.query_with_params(sql, params).await?;
    json_rows(&answer.batches).map_err(|err| QueryError::Invalid(err.to_string()))
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

async fn approved_tools(
    session: &StoreSession,
    policy: &GovernancePolicy,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Section, QueryError> {
    let used = rows(
        session,
        "SELECT tool, model, CAST(date AS VARCHAR) AS day, count(*) AS events \
         FROM ai_usage WHERE date >= $from AND date < $to GROUP BY 1, 2, 3",
        from,
        to,
    )
    .await?;
    let mut per_entry = vec![0u64; policy.approved_tools.len()];
    let mut unapproved: BTreeMap<String, u64> = BTreeMap::new();
    for row in &used {
        let (tool, model) = (cell(&row["tool"]), cell(&row["model"]));
        let day: NaiveDate = cell(&row["day"]).parse().unwrap_or(from);
        match policy
            .approved_tools
            .iter()
            .position(|entry| entry.covers(&tool, &model, day))
        {
            Some(n) => per_entry[n] += number(&row["events"]),
            None => *unapproved.entry(tool).or_default() += number(&row["events"]),
        }
    }
    let last_day = to.pred_opt().unwrap_or(to);
    let due_before = last_day
        .checked_sub_days(Days::new(REVIEW_INTERVAL_DAYS))
        .unwrap_or(last_day);
    let mut table = Table::new(&[
        "tool",
        "models",
        "from",
        "until",
        "max data class",
        "last reviewed",
        "events this quarter",
        "review",
    ]);
    for (entry, events) in policy.approved_tools.iter().zip(&per_entry) {
        let models: Vec<&str> = entry.models.iter().map(|g| g.as_str()).collect();
        let due = entry.last_reviewed.unwrap_or(entry.from) < due_before;
        table.push(vec![
            entry.tool.clone(),
            if models.is_empty() {
                "any".to_string()
            } else {
                models.join(", ")
            },
            entry.from.to_string(),
            entry.until.map(|d| d.to_string()).unwrap_or_default(),
            entry.max_data_class.clone(),
            entry
                .last_reviewed
                .map(|d| d.to_string())
                .unwrap_or_else(|| "never".to_string()),
            events.to_string(),
            if due { "due" } else { "ok" }.to_string(),
        ]);
    }
    let mut others = Table::new(&["tool", "events this quarter"]);
    for (tool, events) in &unapproved {
        others.push(vec![tool.clone(), events.to_string()]);
    }
    Ok(Section {
        title: "Approved tools".to_string(),
        note: format!(
            "Use of each approved entry this quarter; an entry is due for review when its \
             last review is more than {REVIEW_INTERVAL_DAYS} days before {last_day}."
        ),
        chart: Some(Series {
            title: "events per approved entry".to_string(),
            points: policy
                .approved_tools
                .iter()
                .zip(&per_entry)
                .map(|(entry, events)| (entry.tool.clone(), *events as f64))
                .collect(),
        }),
        tables: vec![
            ("Entries".to_string(), table),
            ("Tools used without an approval".to_string(), others),
        ],
    })
}

async fn domains(
    session: &StoreSession,
    policy: &GovernancePolicy,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Section, QueryError> {
    let used = rows(
        session,
        "SELECT domain, repository, user_id, count(*) AS events FROM ai_usage \
         WHERE date >= $from AND date < $to GROUP BY 1, 2, 3",
        from,
        to,
    )
    .await?;
    let mut by_domain: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for row in &used {
        let own = row["domain"].as_str();
        let repository = row["repository"].as_str();
        let domain = own
            .unwrap_or_else(|| policy.domain_of(repository))
            .to_string();
        let entry = by_domain.entry(domain).or_default();
        entry.0 += number(&row["events"]);
        entry.1.insert(cell(&row["user_id"]));
    }
    let mut table = Table::new(&["domain", "events", "users"]);
    for (domain, (events, users)) in &by_domain {
        table.push(vec![
            domain.clone(),
            events.to_string(),
            users.len().to_string(),
        ]);
    }
    Ok(Section {
        title: "Use by domain".to_string(),
        note: "AI use by acceptable-use domain: the event's own, else its repository's by the \
               policy's domain rules."
            .to_string(),
        chart: Some(Series {
            title: "events per domain".to_string(),
            points: by_domain
                .iter()
                .map(|(domain, (events, _))| (domain.clone(), *events as f64))
                .collect(),
        }),
        tables: vec![(String::new(), table)],
    })
}

fn findings_section(found: &[Finding]) -> Section {
    let mut table = Table::new(&["rule", "open", "excepted", "events", "people"]);
    for rule in Rule::ALL {
        let of_rule: Vec<&Finding> = found.iter().filter(|f| f.rule == rule).collect();
        let count = |status: Status| of_rule.iter().filter(|f| f.status == status).count();
        let people: BTreeSet<&str> = of_rule
            .iter()
            .filter_map(|f| f.user_id.as_deref())
            .collect();
        table.push(vec![
            rule.name().to_string(),
            count(Status::Open).to_string(),
            count(Status::Excepted).to_string(),
            of_rule.iter().map(|f| f.events).sum::<u64>().to_string(),
            people.len().to_string(),
        ]);
    }
    Section {
        title: "Findings by rule and status".to_string(),
        note: "Findings of the policy's five rules this quarter, decided by the policy's own \
               dates; `aitrail report violations` lists each one."
            .to_string(),
        chart: Some(Series {
            title: "open findings per rule".to_string(),
            points: Rule::ALL
                .iter()
                .map(|rule| {
                    let open = found
                        .iter()
                        .filter(|f| f.rule == *rule && f.status == Status::Open)
                        .count();
                    (rule.name().to_string(), open as f64)
                })
                .collect(),
        }),
        tables: vec![(String::new(), table)],
    }
}

fn exceptions_section(policy: &GovernancePolicy, found: &[Finding], to: NaiveDate) -> Section {
    let last_day = to.pred_opt().unwrap_or(to);
    let mut table = Table::new(&[
        "id",
        "rule",
        "match",
        "approved by",
        "reason",
        "compensating controls",
        "from",
        "until",
        "state at quarter end",
        "findings excepted",
    ]);
    for exception in &policy.exceptions {
        let covered = found
            .iter()
            .filter(|f| f.exception_id.as_deref() == Some(exception.id.as_str()))
            .count();
        table.push(vec![
            exception.id.clone(),
            exception.rule.name().to_string(),
            exception.match_text(),
            exception.approved_by.clone(),
            exception.reason.clone(),
            exception.compensating_controls.clone().unwrap_or_default(),
            exception.from.to_string(),
            exception.until.to_string(),
            state(exception, last_day).to_string(),
            covered.to_string(),
        ]);
    }
    Section {
        title: "Exceptions".to_string(),
        note: "Every exception of the policy, where it stands on the quarter's last day, and \
               the findings it excepted this quarter."
            .to_string(),
        chart: None,
        tables: vec![(String::new(), table)],
    }
}

async fn incidents(session: &StoreSession, params: &ReportParams) -> Result<Section, QueryError> {
    let report = incidents_report()?;
    let answer = reports::run(report.as_ref(), session, params, 0).await?;
    let rows = json_rows(&answer.rows.batches).map_err(|e| QueryError::Invalid(e.to_string()))?;
    let mut rates = Table::new(&["changes", "count", "failed", "change-failure rate"]);
    if let Some(summary) = &answer.summary {
        for (name, key) in [("AI-assisted", "ai_assisted"), ("other", "other")] {
            let part = &summary[key];
            rates.push(vec![
                name.to_string(),
                cell(&part["changes"]),
                cell(&part["failed"]),
                cell(&part["rate"]),
            ]);
        }
    }
    let listed = Table::of_json(
        &rows,
        &[
            "incident_id",
            "severity",
            "service",
            "started_at",
            "changes",
            "ai_assisted_changes",
            "cause_ai_assisted",
        ],
    );
    Ok(Section {
        title: "Incidents and change-failure rate".to_string(),
        note: format!(
            "{} incidents this quarter; a change failed when an incident names it as its cause.",
            rows.len()
        ),
        chart: None,
        tables: vec![
            ("Change-failure rate".to_string(), rates),
            ("Incidents".to_string(), listed),
        ],
    })
}

async fn adoption(
    session: &StoreSession,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Section, QueryError> {
    let weekly = rows(
        session,
        "SELECT CAST(date_trunc('week', date) AS DATE) AS week, \
         count(DISTINCT user_id) AS active_users, count(*) AS events \
         FROM ai_usage WHERE date >= $from AND date < $to GROUP BY 1 ORDER BY 1",
        from,
        to,
    )
    .await?;
    let new_teams = rows(
        session,
        "SELECT team, CAST(min(date) AS VARCHAR) AS first_use, count(DISTINCT user_id) AS users \
         FROM ai_usage WHERE team IS NOT NULL AND date < $to GROUP BY team \
         HAVING min(date) >= $from ORDER BY 2, 1",
        from,
        to,
    )
    .await?;
    Ok(Section {
        title: "Adoption trend and new teams".to_string(),
        note: "People using AI tools each week (ISO weeks from Monday), and the teams whose \
               first AI use falls in this quarter."
            .to_string(),
        chart: Some(Series {
            title: "active users per week".to_string(),
            points: weekly
                .iter()
                .map(|row| (cell(&row["week"]), number(&row["active_users"]) as f64))
                .collect(),
        }),
        tables: vec![
            (
                "Weekly".to_string(),
                Table::of_json(&weekly, &["week", "active_users", "events"]),
            ),
            (
                "New teams".to_string(),
                Table::of_json(&new_teams, &["team", "first_use", "users"]),
            ),
        ],
    })
}

const REVIEW_LOAD: &str = "SELECT CAST(date_trunc('week', c.date) AS DATE) AS week, \
     count(DISTINCT c.repository || '#' || c.change_id) AS ai_prs, \
     count(r.event_id) AS reviews, count(DISTINCT r.user_id) AS reviewers \
     FROM code_changes c LEFT JOIN code_reviews r \
       ON r.change_id = c.change_id AND r.repository = c.repository \
     WHERE c.kind = 'pull_request' AND c.ai_assisted AND c.date >= $from AND c.date < $to \
     GROUP BY 1 ORDER BY 1";

async fn review_load(session: &StoreSession, quarter: Quarter) -> Result<Section, QueryError> {
    let now = rows(session, REVIEW_LOAD, quarter.start(), quarter.end()).await?;
    let before = rows(
        session,
        REVIEW_LOAD,
        quarter.previous().start(),
        quarter.previous().end(),
    )
    .await?;
    let total = |rows: &[Value], key: &str| rows.iter().map(|r| number(&r[key])).sum::<u64>();
    let mut table = Table::new(&[
        "week",
        "AI-assisted PRs",
        "reviews",
        "reviewers",
        "reviews per reviewer",
    ]);
    for row in &now {
        let reviewers = number(&row["reviewers"]);
        let per = if reviewers == 0 {
            String::new()
        } else {
            format!("{:.1}", number(&row["reviews"]) as f64 / reviewers as f64)
        };
        table.push(vec![
            cell(&row["week"]),
            cell(&row["ai_prs"]),
            cell(&row["reviews"]),
            cell(&row["reviewers"]),
            per,
        ]);
    }
    let growth = |key: &str| {
        let (a, b) = (total(&before, key), total(&now, key));
        if a == 0 {
            "n/a".to_string()
        } else {
            format!("{:+.1} %", (b as f64 / a as f64 - 1.0) * 100.0)
        }
    };
    let mut quarters = Table::new(&["", "previous quarter", "this quarter", "growth"]);
    for (name, key) in [("AI-assisted PRs", "ai_prs"), ("reviews", "reviews")] {
        quarters.push(vec![
            name.to_string(),
            total(&before, key).to_string(),
            total(&now, key).to_string(),
            growth(key),
        ]);
    }
    Ok(Section {
        title: "Review load".to_string(),
        note: format!(
            "AI-assisted pull requests merged and their reviews per week, against {}.",
            quarter.previous()
        ),
        chart: Some(Series {
            title: "AI-assisted PRs per week".to_string(),
            points: now
                .iter()
                .map(|row| (cell(&row["week"]), number(&row["ai_prs"]) as f64))
                .collect(),
        }),
        tables: vec![
            ("Quarter on quarter".to_string(), quarters),
            ("Weekly".to_string(), table),
        ],
    })
}
