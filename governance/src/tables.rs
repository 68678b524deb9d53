//! The policy as SQL tables (`approved_tools`, `domains`, `exceptions`),
//! so compliance can join findings and events against the policy that
//! judged them.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use chrono::NaiveDate;

use crate::policy::{Glob, GovernancePolicy};

/// Each policy table by name.
pub fn policy_tables(policy: &GovernancePolicy) -> Result<Vec<(String, RecordBatch)>, ArrowError> {
    Ok(vec![
        ("approved_tools".to_string(), approved_tools(policy)?),
        ("domains".to_string(), domains(policy)?),
        ("exceptions".to_string(), exceptions(policy)?),
    ])
}

fn text<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn dates(values: impl Iterator<Item = Option<NaiveDate>>) -> ArrayRef {
    Arc::new(
        values
            .map(|day| day.map(|day| day.to_epoch_days()))
            .collect::<Date32Array>(),
    )
}

fn globs(globs: &[Glob]) -> String {
    globs.iter().map(Glob::as_str).collect::<Vec<_>>().join(",")
}

fn batch(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn approved_tools(policy: &GovernancePolicy) -> Result<RecordBatch, ArrowError> {
    let entries = &policy.approved_tools;
    let models: Vec<Option<String>> = entries
        .iter()
        .map(|e| (!e.models.is_empty()).then(|| globs(&e.models)))
        .collect();
    batch(
        vec![
            Field::new("tool", DataType::Utf8, false),
            Field::new("models", DataType::Utf8, true),
            Field::new("from", DataType::Date32, false),
            Field::new("until", DataType::Date32, true),
            Field::new("max_data_class", DataType::Utf8, false),
            Field::new("last_reviewed", DataType::Date32, true),
        ],
        vec![
            text(entries.iter().map(|e| Some(e.tool.as_str()))),
            text(models.iter().map(Option::as_deref)),
            dates(entries.iter().map(|e| Some(e.from))),
            dates(entries.iter().map(|e| e.until)),
            text(entries.iter().map(|e| Some(e.max_data_class.as_str()))),
            dates(entries.iter().map(|e| e.last_reviewed)),
        ],
    )
}

fn domains(policy: &GovernancePolicy) -> Result<RecordBatch, ArrowError> {
    let rules = &policy.domains;
    let repositories: Vec<String> = rules.iter().map(|r| globs(&r.repositories)).collect();
    let positions: Vec<Option<i64>> = (1..=rules.len())
        .map(|n| i64::try_from(n).ok())
        .chain([None])
        .collect();
    batch(
        vec![
            Field::new("position", DataType::Int64, true),
            Field::new("domain", DataType::Utf8, false),
            Field::new("repositories", DataType::Utf8, true),
        ],
        vec![
            Arc::new(Int64Array::from(positions)),
            text(
                rules
                    .iter()
                    .map(|r| Some(r.domain.as_str()))
                    .chain([Some(policy.default_domain.as_str())]),
            ),
            text(repositories.iter().map(|r| Some(r.as_str())).chain([None])),
        ],
    )
}

/// The `exceptions` table: each exception as the policy gives it.
pub(crate) fn exceptions(policy: &GovernancePolicy) -> Result<RecordBatch, ArrowError> {
    let entries = &policy.exceptions;
    let matches: Vec<String> = entries.iter().map(|e| e.match_text()).collect();
    batch(
        vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("rule", DataType::Utf8, false),
            Field::new("match", DataType::Utf8, false),
            Field::new("approved_by", DataType::Utf8, false),
            Field::new("reason", DataType::Utf8, false),
            Field::new("compensating_controls", DataType::Utf8, true),
            Field::new("from", DataType::Date32, false),
            Field::new("until", DataType::Date32, false),
        ],
        vec![
            text(entries.iter().map(|e| Some(e.id.as_str()))),
            text(entries.iter().map(|e| Some(e.rule.name()))),
            text(matches.iter().map(|m| Some(m.as_str()))),
            text(entries.iter().map(|e| Some(e.approved_by.as_str()))),
            text(entries.iter().map(|e| Some(e.reason.as_str()))),
            text(entries.iter().map(|e| e.compensating_controls.as_deref())),
            dates(entries.iter().map(|e| Some(e.from))),
            dates(entries.iter().map(|e| Some(e.until))),
        ],
    )
}
