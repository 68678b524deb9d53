//! The parameters of the reports, validated before anything runs: each
//! mistake is refused naming the parameter, and values reach the plans only
//! as bound values or as one of a closed set of column names.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

/// The length of a report's time buckets, all UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// A calendar day.
    Day,
    /// An ISO week, starting Monday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// The `date_trunc` unit, also the parameter's value.
    pub fn unit(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

/// What a report's rows are grouped by besides the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per bucket.
    None,
    /// The AI tool.
    Tool,
    /// The team.
    Team,
    /// The model.
    Model,
    /// The individual user: compliance only.
    User,
}

impl GroupBy {
    /// The parameter's value.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Tool => "tool",
            GroupBy::Team => "team",
            GroupBy::Model => "model",
            GroupBy::User => "user",
        }
    }

    /// The `ai_usage` column grouped by, if any: one of a fixed set, which
    /// is the only text of a report's SQL a parameter chooses.
    pub fn column(self) -> Option<&'static str> {
        match self {
            GroupBy::None => None,
            GroupBy::Tool => Some("tool"),
            GroupBy::Team => Some("team"),
            GroupBy::Model => Some("model"),
            GroupBy::User => Some("user_id"),
        }
    }
}

/// A parameter that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{param}`: {problem}")]
pub struct ParamError {
    /// The parameter's name.
    pub param: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A report's name and its validated parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportParams {
    /// Which report.
    pub report: &'static str,
    /// The parameters it takes (echoed in its answer).
    pub parameters: &'static [&'static str],
    /// First date included.
    pub from: NaiveDate,
    /// First date excluded.
    pub to: NaiveDate,
    /// Bucket length (adoption, token-spend).
    pub bucket: Bucket,
    /// Grouping (adoption, token-spend).
    pub by: GroupBy,
    /// Hours before an incident whose changes and usage count (incidents).
    pub lookback_hours: u32,
    /// The values of parameters of a report's own (a report of a crate
    /// above this one: `rule`, `status`, …), which that report checks.
    pub others: BTreeMap<String, String>,
}

/// The parameters this parser reads itself; any other a report takes is
/// kept in [`ReportParams::others`] (`quarter` too, which also sets `from`
/// and `to` when they are not given).
const COMMON: [&str; 5] = ["from", "to", "bucket", "by", "lookback_hours"];

/// The first day of the calendar quarter `2026Q3` (or `2026-Q3`) and the
/// first day after it.
pub fn quarter_range(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (year, number) = text.split_once(['Q', 'q'])?;
    let year: i32 = year.strip_suffix('-').unwrap_or(year).parse().ok()?;
    let number: u32 = number.parse().ok().filter(|n| (1..=4).contains(n))?;
    let start = NaiveDate::from_ymd_opt(year, 3 * number - 2, 1)?;
    Some((start, start.checked_add_months(chrono::Months::new(3))?))
}

/// Days a report covers when `from` is not given.
const DEFAULT_DAYS: u64 = 90;
/// The longest lookback accepted: a year.
const MAX_LOOKBACK_HOURS: u32 = 8760;

impl ReportParams {
    /// Parses the `pairs` of a query string or of command-line flags for
    /// the report named `report`, which takes `parameters`.
    /// Defaults: `to` is tomorrow (today included), `from` 90 days before
    /// `to`, `bucket=week`, `by=none`, `lookback_hours=72`. An unknown or
    /// repeated parameter is refused.
    pub fn parse(
        report: &'static str,
        parameters: &'static [&'static str],
        pairs: impl IntoIterator<Item = (String, String)>,
        today: NaiveDate,
    ) -> Result<Self, ParamError> {
        let error = |param: &str, problem: String| ParamError {
            param: param.to_string(),
            problem,
        };
        let mut given: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            if !parameters.contains(&name.as_str()) {
                return Err(error(
                    &name,
                    format!(
                        "not a parameter of the {report} report (parameters: {})",
                        parameters.join(", ")
                    ),
                ));
            }
            if given.iter().any(|(n, _)| *n == name) {
                return Err(error(&name, "given more than once".to_string()));
            }
            given.push((name, value));
        }
        let value = |name: &str| {
            given
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let date = |name: &str| -> Result<Option<NaiveDate>, ParamError> {
            value(name)
                .map(|v| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| error(name, format!("`{v}` is not a date (YYYY-MM-DD)")))
                })
                .transpose()
        };
        let quarter = value("quarter")
            .map(|text| {
                quarter_range(text).ok_or_else(|| {
                    error(
                        "quarter",
                        format!("`{text}` is not a quarter such as 2026Q3"),
                    )
                })
            })
            .transpose()?;
        let to = match (date("to")?, quarter) {
            (Some(to), _) => to,
            (None, Some((_, end))) => end,
            (None, None) => today
                .checked_add_days(Days::new(1))
                .ok_or_else(|| error("to", "today has no tomorrow".to_string()))?,
        };
        let from = match (date("from")?, quarter) {
            (Some(from), _) => from,
            (None, Some((start, _))) => start,
            (None, None) => to
                .checked_sub_days(Days::new(DEFAULT_DAYS))
                .ok_or_else(|| error("from", "out of range".to_string()))?,
        };
        if from >= to {
            return Err(error(
                "from",
                format!("{from} is not before `to` ({to}); `to` is exclusive"),
            ));
        }
        let bucket = match value("bucket") {
            None | Some("week") => Bucket::Week,
            Some("day") => Bucket::Day,
            Some("month") => Bucket::Month,
            Some(other) => {
                return Err(error(
                    "bucket",
                    format!("`{other}` is not one of day, week, month"),
                ));
            }
        };
        let by = match value("by") {
            None | Some("none") => GroupBy::None,
            Some("tool") => GroupBy::Tool,
            Some("team") => GroupBy::Team,
            Some("model") => GroupBy::Model,
            Some("user") => GroupBy::User,
            Some(other) => {
                return Err(error(
                    "by",
                    format!("`{other}` is not one of none, tool, team, model, user"),
                ));
            }
        };
        let lookback_hours = match value("lookback_hours") {
            None => 72,
            Some(v) => match v.parse::<u32>() {
                Ok(hours) if (1..=MAX_LOOKBACK_HOURS).contains(&hours) => hours,
                _ => {
                    return Err(error(
                        "lookback_hours",
                        format!(
                            "`{v}` is not a whole number of hours from 1 to {MAX_LOOKBACK_HOURS}"
                        ),
                    ));
                }
            },
        };
        let others = given
            .iter()
            .filter(|(name, _)| !COMMON.contains(&name.as_str()))
            .cloned()
            .collect();
        Ok(ReportParams {
            report,
            parameters,
            from,
            to,
            bucket,
            by,
            lookback_hours,
            others,
        })
    }

    /// The parameters as a report echoes them (and the access log keeps
    /// them): only those of this report, defaults filled in.
    pub fn to_json(&self) -> Value {
        let mut params = json!({"from": self.from.to_string(), "to": self.to.to_string()});
        let takes = |name: &str| self.parameters.contains(&name);
        if takes("bucket") {
            params["bucket"] = json!(self.bucket.unit());
        }
        if takes("by") {
            params["by"] = json!(self.by.name());
        }
        if takes("lookback_hours") {
            params["lookback_hours"] = json!(self.lookback_hours);
        }
        for (name, value) in &self.others {
            params[name] = json!(value);
        }
        params
    }

    /// The value given for a parameter of the report's own.
    pub fn other(&self, name: &str) -> Option<&str> {
        self.others.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report's name and parameters.
    type Takes = (&'static str, &'static [&'static str]);
    const ADOPTION: Takes = ("adoption", &["from", "to", "bucket", "by"]);
    const TOKEN_SPEND: Takes = ("token-spend", &["from", "to", "bucket", "by"]);
    const INCIDENTS: Takes = ("incidents", &["from", "to", "lookback_hours"]);

    fn parse(report: Takes, pairs: &[(&str, &str)]) -> Result<ReportParams, ParamError> {
        ReportParams::parse(
            report.0,
            report.1,
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        )
    }

    #[test]
    fn defaults_cover_the_last_ninety_days_by_week() {
        let params = parse(ADOPTION, &[]).unwrap();
        assert_eq!(params.to.to_string(), "2026-03-11");
        assert_eq!(params.from.to_string(), "2025-12-11");
        assert_eq!(params.bucket, Bucket::Week);
        assert_eq!(params.by, GroupBy::None);
    }

    #[test]
    fn a_quarter_is_the_range_of_its_three_months() {
        const REVIEW: Takes = ("review", &["quarter"]);
        let params = parse(REVIEW, &[("quarter", "2026Q4")]).unwrap();
        assert_eq!(
            (params.from.to_string(), params.to.to_string()),
            ("2026-10-01".to_string(), "2027-01-01".to_string())
        );
        assert_eq!(params.other("quarter"), Some("2026Q4"));
        let first = parse(REVIEW, &[("quarter", "2026-Q1")]).unwrap();
        assert_eq!(first.from.to_string(), "2026-01-01");
        for wrong in ["2026Q5", "2026Q0", "Q3", "2026-07"] {
            let err = parse(REVIEW, &[("quarter", wrong)]).unwrap_err();
            assert_eq!(err.param, "quarter", "{wrong}");
        }
    }

    #[test]
    fn mistakes_name_the_parameter() {
        type Case<'a> = (Takes, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 7] = [
            (ADOPTION, &[("from", "2026-13-01")], "from"),
            (
                ADOPTION,
                &[("from", "2026-01-02'; DROP TABLE x; --")],
                "from",
            ),
            (
                ADOPTION,
                &[("from", "2026-02-01"), ("to", "2026-01-01")],
                "from",
            ),
            (TOKEN_SPEND, &[("by", "tool; DELETE")], "by"),
            (TOKEN_SPEND, &[("bucket", "year")], "bucket"),
            (INCIDENTS, &[("by", "tool")], "by"),
            (INCIDENTS, &[("lookback_hours", "-1")], "lookback_hours"),
        ];
        for (report, pairs, param) in cases {
            let err = parse(report, pairs).unwrap_err();
            assert_eq!(err.param, param, "{pairs:?}: {err}");
        }
        let twice = parse(ADOPTION, &[("by", "tool"), ("by", "team")]).unwrap_err();
        assert_eq!(twice.param, "by");
    }
}
