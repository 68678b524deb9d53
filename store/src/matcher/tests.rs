use std::collections::BTreeSet;
use std::sync::LazyLock;

use aitrail_schemas::Validator;
use aitrail_schemas::generator::{GenConfig, generate};
use chrono::{NaiveDate, Utc};
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

use super::*;
use crate::rows::{PendingRows, Position, TableBatch};

/// Generated events of every type, as JSON lines.
static LINES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let config = GenConfig {
        users: 40,
        days: 30,
        seed: 11,
        start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        not_after: None,
        policy: None,
    };
    let mut out = Vec::new();
    generate(&config, &mut out, |_| {}).unwrap();
    out.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .step_by(3)
        .map(<[u8]>::to_vec)
        .collect()
});

fn events() -> Vec<Event<'static>> {
    let validator = Validator::default();
    LINES
        .iter()
        .map(|line| validator.validate(line, Utc::now()).unwrap())
        .collect()
}

/// Each table's rows of `events`.
fn batches(events: &[Event<'_>]) -> Vec<TableBatch> {
    let mut pending = PendingRows::default();
    for (n, event) in events.iter().enumerate() {
        let position = Position {
            partition: -1,
            offset: n as i64,
        };
        pending.push(event, 0, "standard", position);
    }
    pending.take()
}

/// The ids of the rows of `batch` that `expr` keeps.
fn kept_by_expr(
    runtime: &tokio::runtime::Runtime,
    batch: &TableBatch,
    expr: Expr,
) -> BTreeSet<String> {
    runtime.block_on(async {
        let ctx = SessionContext::new();
        let rows = ctx
            .read_batch(batch.batch.clone())
            .unwrap()
            .filter(expr)
            .unwrap()
            .collect()
            .await
            .unwrap();
        rows.iter()
            .flat_map(|rows| crate::rows::event_id_column(rows).iter().flatten())
            .map(str::to_string)
            .collect()
    })
}

/// Values the events hold, per field, and some they do not.
struct Vocabulary {
    org_id: Vec<String>,
    team: Vec<String>,
    data_class: Vec<String>,
    domain: Vec<String>,
    tool: Vec<String>,
    repository: Vec<String>,
}

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let mut v = Vocabulary {
        org_id: vec!["no-such-org".into()],
        team: vec!["no-such-team".into()],
        data_class: vec!["no-such-class".into()],
        domain: vec!["no-such-domain".into()],
        tool: vec!["no-such-tool".into()],
        repository: vec!["git.example.com/none/none".into()],
    };
    for event in events() {
        let s = Subject::of(&event);
        v.org_id.push(s.org_id.into());
        v.team.extend(s.team.map(String::from));
        v.data_class.extend(s.data_class.map(String::from));
        v.domain.extend(s.domain.map(String::from));
        v.tool.extend(s.tool.map(String::from));
        v.repository
            .extend(s.repositories.iter().map(|r| r.as_str().to_string()));
    }
    for values in [
        &mut v.org_id,
        &mut v.team,
        &mut v.data_class,
        &mut v.domain,
        &mut v.tool,
        &mut v.repository,
    ] {
        values.sort();
        values.dedup();
    }
    v
});

/// A condition on one field: absent, or one or two of `values`.
fn condition(values: &'static [String]) -> impl Strategy<Value = Option<OneOrMany>> {
    prop_oneof![
        2 => Just(None),
        2 => prop::sample::select(values).prop_map(|v| Some(OneOrMany::One(v))),
        1 => prop::collection::vec(prop::sample::select(values), 1..3)
            .prop_map(|v| Some(OneOrMany::Many(v))),
    ]
}

/// A glob made from a repository by turning some of its characters into
/// wildcards or classes (`?`, `*`, `[c]`, `[!c]`, `[a-c]`).
fn glob() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&VOCABULARY.repository[..]),
        prop::collection::vec((any::<prop::sample::Index>(), 0..6u8), 0..4),
    )
        .prop_map(|(repository, edits)| {
            let mut chars: Vec<String> = repository.chars().map(String::from).collect();
            for (index, kind) in edits {
                let at = index.index(chars.len());
                let c = chars[at].chars().next().unwrap_or('x');
                chars[at] = match kind {
                    0 => "?".to_string(),
                    1 => "*".to_string(),
                    2 => format!("[{c}]"),
                    3 => format!("[!{c}]"),
                    4 => "[a-m]".to_string(),
                    _ => "[!a-m/]".to_string(),
                };
            }
            chars.concat()
        })
}

fn conditions() -> impl Strategy<Value = Conditions> {
    let v = &*VOCABULARY;
    (
        condition(&v.org_id),
        condition(&v.team),
        prop_oneof![
            2 => Just(None),
            1 => prop::collection::vec(glob(), 1..3).prop_map(|g| Some(OneOrMany::Many(g))),
        ],
        condition(&v.data_class),
        condition(&v.domain),
        condition(&v.tool),
    )
        .prop_map(
            |(org_id, team, repository, data_class, domain, tool)| Conditions {
                org_id,
                team,
                repository,
                data_class,
                domain,
                tool,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The expression keeps exactly the rows whose events match.
    #[test]
    fn the_expression_and_the_event_test_agree(conditions in conditions()) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let events = events();
        let matcher = Matcher::new(conditions).unwrap();
        for batch in batches(&events) {
            let expected: BTreeSet<String> = events
                .iter()
                .filter(|e| e.event_type() == batch.event_type && matcher.matches(e))
                .map(|e| e.event_id().to_string())
                .collect();
            let kept = kept_by_expr(&runtime, &batch, matcher.expr(batch.event_type));
            prop_assert_eq!(kept, expected, "{:?} on {:?}", matcher, batch.event_type);
        }
    }
}

#[test]
fn the_corpus_has_every_type_and_fields_to_test() {
    let types: BTreeSet<String> = events()
        .iter()
        .map(|e| format!("{:?}", e.event_type()))
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert!(VOCABULARY.team.len() > 2 && VOCABULARY.repository.len() > 5);
}

#[test]
fn globs_translate_as_glob_matches_them() {
    for (glob, text, expected) in [
        (
            "git.example.com/acme/pay-*",
            "git.example.com/acme/pay-api",
            true,
        ),
        (
            "git.example.com/acme/pay-*",
            "git.example.com/acme/payroll",
            false,
        ),
        ("*/pay?", "a/b/pay1", true),
        ("a.b", "axb", false),
        ("[]x]", "]", true),
        ("[!a-c]x", "dx", true),
        ("[!a-c]x", "bx", false),
        ("[z-a]", "m", false),
        ("[a-]", "-", true),
        ("(x)+", "(x)+", true),
    ] {
        let pattern = glob::Pattern::new(glob).unwrap();
        assert_eq!(pattern.matches(text), expected, "glob {glob} on {text}");
        let regex = regex::Regex::new(&format!("^(?:{})$", glob_regex(glob))).unwrap();
        assert_eq!(regex.is_match(text), expected, "regex of {glob} on {text}");
    }
}

#[test]
fn no_condition_matches_everything_and_an_absent_field_nothing() {
    let events = events();
    let everything = Matcher::new(Conditions::default()).unwrap();
    assert!(events.iter().all(|e| everything.matches(e)));
    let tool = Matcher::new(Conditions {
        tool: Some(OneOrMany::One(VOCABULARY.tool[0].clone())),
        ..Conditions::default()
    })
    .unwrap();
    assert!(
        events
            .iter()
            .filter(|e| e.event_type() == EventType::Incident)
            .all(|e| !tool.matches(e))
    );
    assert_eq!(tool.expr(EventType::Incident), lit(false).is_true());
}
