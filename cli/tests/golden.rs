//! Golden results as data: every `golden/*.slt` file is a list of
//! queries and reports with the rows they must give (sqllogictest's
//! format, as DataFusion keeps its own), run against a store that
//! `aitrail load` builds from `data/golden.jsonl`, priced with
//! `common::golden::PRICES`.
//!
//! Beside SQL, a record may run a report of the registry, as the command
//! line and the HTTP service run it:
//!
//! ```text
//! query T
//! REPORT adoption from=2025-03-03 to=2025-03-17 bucket=week k=2
//! ```
//!
//! Its parameters are the report's own, plus `k` for k-anonymity (0, as
//! compliance sees them, when absent). `SUMMARY name …` gives the
//! report's summary as one JSON value. Values are printed as Arrow
//! displays them, floats rounded to 10 decimals, `NULL` for nulls and
//! `(empty)` for empty strings.
//!
//! The hand-built dataset (`data/golden.jsonl`), all on repository r1 unless
//! said otherwise, weeks starting Monday 2025-03-03 and 2025-03-10:
//!
//! | event | when | user/team | tool, model | what |
//! |---|---|---|---|---|
//! | u0 | 02-20 09:00 | u1/a | claude-code, m-priced | chat s0, 1+1 tokens, no repo |
//! | u1 | 03-03 10:00 | u1/a | claude-code, m-priced | chat s1, in 1000 out 500 cr 2000 cw 100 |
//! | u2 | 03-04 10:00 | u1/a | claude-code, m-priced | completion s1 not accepted, 100+50 |
//! | u3 | 03-05 09:00 | u2/a | github-copilot, m-unpriced | completion s2 accepted, 10+20 |
//! | u4 | 03-05 12:00 | u3/b | github-copilot, m-unpriced | completion s3, 40+60, cost 0.5, no repo |
//! | u5 | 03-11 08:00 | u2/a | claude-code, m-priced | agent s4, 2000+1000, repo r2 |
//! | c1 | 03-05 06:00 | u4/b | | change acme/r1#1, not AI-assisted |
//! | c2 | 03-05 07:00 | u1/a | | change acme/r1#2, AI (claude-code) |
//! | c3 | 03-11 07:00 | u2/a | | change acme/r1#3, AI (github-copilot, claude-code) |
//! | i1 | 03-05 10:00 | | | INC-1 sev2 on r1, caused by acme/r1#2 |
//! | c4 | 03-13 00:00 | u2/a | | change acme/r2#4 on r2, not AI-assisted |
//! | i2 | 03-12 00:00 | | | INC-2 sev3 on r1 and r2, no cause |
//! | i2b | 03-12 00:00 | | | INC-2 resolved 04:00, sev2, service svc2 |
//! | i2c | 03-14 12:00 | | | INC-2 on r2, sev1, caused by acme/r1#3 |
//! | r1 | 03-05 06:30 | u4 | | review of acme/r1#2: changes requested |
//! | r2 | 03-05 06:45 | u4 | | review of acme/r1#2: approved |
//! | r3 | 03-11 06:00 | u2 | | review of acme/r1#3: commented |

use std::path::{Path, PathBuf};

use aitrail_query::reports::{self, Reports, one_report_session};
use aitrail_query::{Answer, ModelPrice, Prices, StoreSession};
use aitrail_store::StoreRoot;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use serde::Deserialize;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

mod common;
use common::golden::{GOLDEN, PRICES, load_for_a_century};

/// Why a record could not be answered; `statement error` records match
/// its text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RecordError(String);

impl RecordError {
    fn of(err: impl std::fmt::Display) -> Self {
        RecordError(err.to_string())
    }
}

/// The store the records run against.
struct GoldenStore {
    root: StoreRoot,
    prices: Prices,
}

#[async_trait]
impl AsyncDB for GoldenStore {
    type Error = RecordError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, RecordError> {
        let sql = sql.trim();
        let rows = if let Some(report) = sql.strip_prefix("REPORT ") {
            let (answer, _) = self.report(report).await?;
            rows_of(&answer)?
        } else if let Some(report) = sql.strip_prefix("SUMMARY ") {
            let (_, summary) = self.report(report).await?;
            let summary = summary.ok_or_else(|| RecordError::of("the report has no summary"))?;
            vec![vec![summary.to_string()]]
        } else {
            let session = StoreSession::open(&self.root, self.prices.clone())
                .await
                .map_err(RecordError::of)?;
            rows_of(&session.query(sql).await.map_err(RecordError::of)?)?
        };
        let columns = rows.first().map_or(1, Vec::len);
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }

    async fn shutdown(&mut self) {}
}

impl GoldenStore {
    /// Runs `line`: a report's name, then `key=value` parameters.
    async fn report(&self, line: &str) -> Result<(Answer, Option<serde_json::Value>), RecordError> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let registry = Reports::builtin();
        let report = registry
            .named(name)
            .ok_or_else(|| RecordError(format!("no report is named `{name}`")))?;
        let mut k = 0;
        let mut pairs = Vec::new();
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| RecordError(format!("`{word}` is not key=value")))?;
            if key == "k" {
                k = value.parse().map_err(RecordError::of)?;
            } else {
                pairs.push((key.to_string(), value.to_string()));
            }
        }
        let today = chrono::Utc::now().date_naive();
        let params = report.parse_params(pairs, today).map_err(RecordError::of)?;
        let session = one_report_session(&self.root, self.prices.clone(), report.as_ref(), &params)
            .await
            .map_err(RecordError::of)?;
        let answer = reports::run(report.as_ref(), &session, &params, k)
            .await
            .map_err(RecordError::of)?;
        Ok((answer.rows, answer.summary))
    }
}

/// Every row of `answer`, each value as text.
fn rows_of(answer: &Answer) -> Result<Vec<Vec<String>>, RecordError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &answer.batches {
        let mut columns: Vec<Vec<String>> = Vec::new();
        for column in batch.columns() {
            let values = match column.data_type() {
                DataType::Float64 => {
                    let floats = column.as_primitive::<Float64Type>();
                    (0..floats.len())
                        .map(|i| {
                            if floats.is_null(i) {
                                "NULL".to_string()
                            } else {
                                rounded(floats.value(i))
                            }
                        })
                        .collect()
                }
                _ => {
                    let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                        .map_err(RecordError::of)?;
                    (0..column.len())
                        .map(|i| match formatter.value(i).to_string() {
                            empty if empty.is_empty() => "(empty)".to_string(),
                            text => text,
                        })
                        .collect()
                }
            };
            columns.push(values);
        }
        for row in 0..batch.num_rows() {
            rows.push(columns.iter().map(|column| column[row].clone()).collect());
        }
    }
    Ok(rows)
}

/// `value` to 10 decimals, without trailing zeros: sums of floats differ
/// in their last bits from one plan to the next.
fn rounded(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_string(),
        text => text.to_string(),
    }
}

/// The `[[prices]]` of [`PRICES`].
fn prices() -> Prices {
    #[derive(Deserialize)]
    struct File {
        prices: Vec<ModelPrice>,
    }
    let file: File = toml::from_str(PRICES).unwrap();
    Prices::new(file.prices).unwrap()
}

/// A store holding `data/golden.jsonl`, loaded by `aitrail load`.
fn golden_store(dir: &Path) -> StoreRoot {
    let store = dir.join("store");
    load_for_a_century(&store, GOLDEN);
    StoreRoot::parse(store.to_str().unwrap()).unwrap()
}

fn golden_files() -> Vec<PathBuf> {
    let dir = common::manifest_dir().join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_file_gives_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let root = golden_store(dir.path());
    let files = golden_files();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let root = root.clone();
        let mut runner = Runner::new(move || {
            let store = GoldenStore {
                root: root.clone(),
                prices: prices(),
            };
            async move { Ok::<_, RecordError>(store) }
        });
        if let Err(err) = runner.run_file_async(&file).await {
            panic!("{}:\n{}", file.display(), err.display(true));
        }
    }
}
