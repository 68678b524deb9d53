//! One day of the synthetic organization: who works, who uses which AI tool
//! and how much, what they change, what gets deployed and what breaks.
//!
//! Each day draws from its own random stream, seeded by the generator's seed
//! and the day, so days can be made in parallel and still come out the same.

use std::borrow::Cow;
use std::io::{self, IoSlice, Write};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use rand_pcg::Pcg64Mcg;

use super::org::{Organization, Person, TOOLS, ToolProfile, pick};
use super::policy::{
    RED_SESSIONS_KEPT, UNAPPROVED_MERGES, UsagePolicy, governed_class, keeps_unapproved_tools,
};
use crate::event::{AiUsage, CodeChange, CodeReview, Incident};
use crate::fields::{
    Attributes, BoundedText, Count, EventId, List, Repository, SchemaVersion, Timestamp,
    TokenCount, Usd,
};
use crate::json_line::WriteJson;
use crate::vocab::{
    AiUsageTag, ChangeKind, CodeChangeTag, CodeReviewTag, DataClass, Domain, IncidentTag,
    Operation, ReviewState, Severity,
};

/// One day's events as JSONL, in order of `occurred_at`, and the buffers
/// that made it, which the next day reuses: a year of events is gigabytes,
/// and fresh buffers for each day would cost a page fault every 4 KiB. The
/// lines stay where they were made; only their spans are sorted.
#[derive(Debug, Default)]
pub struct DayOutput {
    made: Vec<u8>,
    spans: Vec<(i64, usize, usize)>,
}

/// Lines handed to one vectored write: Linux's limit on the slices of a
/// `writev`.
const LINES_PER_WRITE: usize = 1024;

impl DayOutput {
    /// How many events the day holds.
    pub fn events(&self) -> usize {
        self.spans.len()
    }

    /// The day's lines in time order, each without its `\n`.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.spans.len()).filter_map(|index| self.line(index))
    }

    /// Line number `index` in time order, without its `\n`.
    pub fn line(&self, index: usize) -> Option<&[u8]> {
        let (_, start, end) = self.spans.get(index)?;
        Some(&self.made[*start..*end - 1])
    }

    /// Writes the day's lines in time order, each ending in `\n`, with
    /// vectored writes straight from where they were made.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut slices = Vec::with_capacity(LINES_PER_WRITE);
        for chunk in self.spans.chunks(LINES_PER_WRITE) {
            slices.clear();
            slices.extend(
                chunk
                    .iter()
                    .map(|(_, start, end)| IoSlice::new(&self.made[*start..*end])),
            );
            let mut pending = &mut slices[..];
            while !pending.is_empty() {
                let written = out.write_vectored(pending)?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut pending, written);
            }
        }
        Ok(())
    }
}

/// Collects one day's events and puts them in time order.
struct DayWriter<'p> {
    output: &'p mut DayOutput,
    id_prefix: &'p str,
    sequence: u64,
    /// The generator's clock in microseconds: later events are left out.
    not_after: Option<i64>,
}

impl DayWriter<'_> {
    fn next_id(&mut self) -> EventId<'static> {
        self.sequence += 1;
        let mut id = String::with_capacity(self.id_prefix.len() + 16);
        id.push_str(self.id_prefix);
        push_hex(&mut id, self.sequence);
        EventId(Cow::Owned(id))
    }

    /// Whether `at` is not after the generator's clock.
    fn has_happened(&self, at: Timestamp) -> bool {
        self.not_after.is_none_or(|now| at.micros() <= now)
    }

    fn emit<T: WriteJson>(&mut self, at: Timestamp, event: &T) {
        if !self.has_happened(at) {
            return;
        }
        let buffer = &mut self.output.made;
        let start = buffer.len();
        event.write_json(buffer);
        buffer.push(b'\n');
        self.output.spans.push((at.micros(), start, buffer.len()));
    }

    fn finish(self) {
        self.output
            .spans
            .sort_unstable_by_key(|(at, start, _)| (*at, *start));
    }
}

/// Appends `n` in lower-case hexadecimal, as `{:x}` writes it.
fn push_hex(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|d| char::from(*d)));
}

/// Distributions shared by every day.
struct Shapes {
    small_input: LogNormal<f64>,
    small_output: LogNormal<f64>,
    chat_input: LogNormal<f64>,
    chat_output: LogNormal<f64>,
    agent_input: LogNormal<f64>,
    agent_output: LogNormal<f64>,
    cache_read: LogNormal<f64>,
    cache_write: LogNormal<f64>,
    gap_seconds: LogNormal<f64>,
    morning: Normal<f64>,
    afternoon: Normal<f64>,
    resolve_hours: LogNormal<f64>,
}

impl Shapes {
    fn new() -> Self {
        let ln = |mu, sigma| LogNormal::new(mu, sigma).expect("constant parameters are valid");
        let normal = |mean, sd| Normal::new(mean, sd).expect("constant parameters are valid");
        Shapes {
            small_input: ln(6.5, 0.6),
            small_output: ln(3.5, 0.7),
            chat_input: ln(7.5, 1.0),
            chat_output: ln(6.0, 0.8),
            agent_input: ln(7.0, 1.2),
            agent_output: ln(6.5, 1.0),
            cache_read: ln(10.5, 1.0),
            cache_write: ln(8.0, 1.2),
            gap_seconds: ln(3.5, 1.0),
            morning: normal(10.5, 1.2),
            afternoon: normal(15.0, 1.5),
            resolve_hours: ln(0.7, 1.0),
        }
    }
}

fn tokens(rng: &mut Pcg64Mcg, shape: &LogNormal<f64>) -> u64 {
    (shape.sample(rng).round() as u64).min(crate::fields::MAX_TOKENS)
}

/// USD per million input and output tokens, for the share of events whose
/// collector (an AI gateway) reports the cost itself.
fn list_price(model: &str) -> (f64, f64) {
    match model {
        "claude-opus-4-1" => (15.0, 75.0),
        "claude-haiku-4-5" => (1.0, 5.0),
        "claude-sonnet-4-5" => (3.0, 15.0),
        "gpt-5" | "gpt-5-codex" => (1.25, 10.0),
        "gpt-5-mini" => (0.25, 2.0),
        "gemini-2.5-pro" => (1.25, 10.0),
        _ => (2.0, 8.0),
    }
}

fn poisson(rng: &mut Pcg64Mcg, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean)
        .map(|p| p.sample(rng) as u64)
        .unwrap_or(0)
}

fn text<'a, const MIN: usize, const MAX: usize>(s: &'a str) -> BoundedText<'a, MIN, MAX> {
    BoundedText(Cow::Borrowed(s))
}

/// Which day to make.
#[derive(Debug, Clone, Copy)]
pub struct DayPlan {
    /// Its number in the span: with the seed, it picks the day's random
    /// stream, and it places the day on the adoption curves.
    pub day: u32,
    /// Its date.
    pub date: NaiveDate,
    /// The generator's clock (see [`super::GenConfig::not_after`]).
    pub not_after: Option<DateTime<Utc>>,
}

/// Generates every event of the planned day into `output`, replacing what
/// it held.
pub fn generate_day(
    org: &Organization,
    seed: u64,
    id_prefix: &str,
    plan: &DayPlan,
    output: &mut DayOutput,
) {
    let DayPlan {
        day,
        date,
        not_after,
    } = *plan;
    let mut rng =
        Pcg64Mcg::seed_from_u64(seed ^ u64::from(day).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let shapes = Shapes::new();
    let day_prefix = format!("{id_prefix}{day:x}-");
    output.made.clear();
    output.spans.clear();
    let mut out = DayWriter {
        output,
        id_prefix: &day_prefix,
        sequence: 0,
        not_after: not_after.map(|at| at.timestamp_micros()),
    };
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let day_f = f64::from(day);

    let policy = org.policy.as_deref();
    // Pull requests merged today per repository, for deployments and incidents.
    let mut merged: Vec<(String, String, bool)> = Vec::new();

    for person in &org.people {
        let works = rng.random_bool(if weekend { 0.04 } else { 0.92 });
        if !works {
            continue;
        }
        let adopted = day_f >= person.adopts_on_day;
        let team = &org.teams[person.team];
        let mut used_tools: Vec<&'static str> = Vec::new();
        if adopted {
            let sessions = 1 + poisson(&mut rng, 1.5 * person.intensity);
            for session in 0..sessions {
                let tool = if rng.random_bool(0.2) {
                    &TOOLS[person.second_tool]
                } else {
                    &TOOLS[person.main_tool]
                };
                let start = working_time(&mut rng, &shapes, person, midnight);
                let used = emit_session(
                    &mut out, &mut rng, &shapes, org, person, tool, start, session, date,
                );
                if !used_tools.contains(&used) {
                    used_tools.push(used);
                }
            }
        }
        let used_ai = !used_tools.is_empty();
        let ai_rate = match (used_ai, adopted) {
            (true, _) => 0.75,
            (false, true) => 0.1,
            (false, false) => 0.02,
        };
        let commits = poisson(&mut rng, 1.5 * person.intensity);
        let pull_requests = u64::from(rng.random_bool(0.35));
        for n in 0..commits + pull_requests {
            let kind = if n < commits {
                ChangeKind::Commit
            } else {
                ChangeKind::PullRequest
            };
            let repository = &team.repositories[rng.random_range(0..team.repositories.len())];
            let ai_assisted = rng.random_bool(ai_rate);
            let at = working_time(&mut rng, &shapes, person, midnight);
            let change_id = match kind {
                ChangeKind::Commit => format!("{:040x}", rng.random::<u128>()),
                _ => format!(
                    "{}#{}",
                    repository.trim_start_matches("github.example.com/"),
                    rng.random_range(1..20_000)
                ),
            };
            let lines_added = (shapes.chat_output.sample(&mut rng) / 3.0) as u64;
            let reviewer = (kind == ChangeKind::PullRequest).then(|| {
                let members = &org.members[person.team];
                &org.people[members[rng.random_range(0..members.len())]]
            });
            let reviews = reviewer.map(|reviewer| match policy {
                Some(policy) => governed_reviews(
                    &mut rng,
                    policy,
                    org,
                    person,
                    reviewer,
                    repository,
                    ai_assisted,
                ),
                None => vec![(reviewer.user_id.as_str(), authors_review(reviewer, person))],
            });
            let reviewer_ids = reviews.as_ref().and_then(|reviews| match policy {
                Some(_) => {
                    let approvers: Vec<_> = reviews
                        .iter()
                        .filter(|(_, state)| *state == ReviewState::Approved)
                        .map(|(user, _)| text(user))
                        .collect();
                    (!approvers.is_empty()).then_some(List(approvers))
                }
                None => reviewer.map(|reviewer| List(vec![text(&reviewer.user_id)])),
            });
            let event = CodeChange {
                schema_version: SchemaVersion::default(),
                event_id: out.next_id(),
                event_type: CodeChangeTag::CodeChange,
                occurred_at: at,
                org_id: text(&org.org_id),
                change_id: BoundedText(Cow::Owned(change_id.clone())),
                kind,
                repository: Repository(Cow::Borrowed(repository)),
                user_id: text(&person.user_id),
                team: Some(text(&team.name)),
                ai_assisted,
                ai_tools: ai_assisted.then(|| List(used_tools.iter().map(|t| text(t)).collect())),
                lines_added: Some(Count(lines_added)),
                lines_removed: Some(Count(lines_added / 3)),
                ai_lines_added: ai_assisted.then(|| Count(lines_added * 6 / 10)),
                reviewer_ids,
                domain: Some(policy.map_or(Domain::Green, |p| p.domain_of(Some(repository)))),
                service: None,
            };
            out.emit(at, &event);
            if let Some(reviews) = reviews {
                emit_reviews(&mut out, &event, &reviews, lines_added);
                merged.push((repository.clone(), change_id, ai_assisted));
            }
        }
    }

    if !weekend {
        emit_deployments(&mut out, &mut rng, &shapes, org, midnight, &merged);
    }
    out.finish();
}

/// The review of the one reviewer a pull request has without a policy: an
/// approval, or a comment when the reviewer is its author (who cannot
/// approve).
fn authors_review(reviewer: &Person, author: &Person) -> ReviewState {
    if reviewer.user_id == author.user_id {
        ReviewState::Commented
    } else {
        ReviewState::Approved
    }
}

/// The reviews of a pull request under a policy: as many approvals as its
/// domain needs, by team members other than its author and, in red, by a
/// security reviewer; or, for [`UNAPPROVED_MERGES`] of the AI-assisted
/// ones, only a comment. A team too small for the approvals needed merges
/// with fewer, as small teams do.
fn governed_reviews<'o>(
    rng: &mut Pcg64Mcg,
    policy: &'o dyn UsagePolicy,
    org: &'o Organization,
    author: &Person,
    reviewer: &'o Person,
    repository: &str,
    ai_assisted: bool,
) -> Vec<(&'o str, ReviewState)> {
    if ai_assisted && rng.random_bool(UNAPPROVED_MERGES) {
        return vec![(reviewer.user_id.as_str(), ReviewState::Commented)];
    }
    let domain = policy.domain_of(Some(repository));
    let needed = policy.approvals_needed(domain);
    let mut approvers: Vec<&str> = Vec::new();
    let security = policy.security_reviewers();
    if domain == Domain::Red && !security.is_empty() {
        approvers.push(&security[rng.random_range(0..security.len())]);
    }
    let members = &org.members[author.team];
    let first = rng.random_range(0..members.len());
    let colleagues = std::iter::once(reviewer)
        .chain((0..members.len()).map(|n| &org.people[members[(first + n) % members.len()]]));
    for colleague in colleagues {
        if approvers.len() >= needed {
            break;
        }
        let id = colleague.user_id.as_str();
        if id != author.user_id && !approvers.contains(&id) {
            approvers.push(id);
        }
    }
    approvers
        .into_iter()
        .map(|user| (user, ReviewState::Approved))
        .collect()
}

/// The reviews of a merged pull request, before the merge, each reviewer
/// half an hour after the one before; the first approval follows a request
/// for changes on one pull request in eight. Times and states come from the
/// change's own numbers, so the random stream stays as it was.
fn emit_reviews(
    out: &mut DayWriter,
    change: &CodeChange,
    reviews: &[(&str, ReviewState)],
    lines_added: u64,
) {
    let before_merge = TimeDelta::minutes(20 + (lines_added % 240) as i64);
    for (index, (reviewer, last)) in reviews.iter().enumerate() {
        let states: &[ReviewState] =
            if index == 0 && *last == ReviewState::Approved && lines_added.is_multiple_of(8) {
                &[ReviewState::ChangesRequested, ReviewState::Approved]
            } else {
                std::slice::from_ref(last)
            };
        let before = before_merge + TimeDelta::minutes(30 * index as i64);
        for (n, state) in states.iter().rev().enumerate() {
            let at = Timestamp(change.occurred_at.0 - before - TimeDelta::hours(n as i64));
            let review = CodeReview {
                schema_version: SchemaVersion::default(),
                event_id: out.next_id(),
                event_type: CodeReviewTag::CodeReview,
                occurred_at: at,
                org_id: change.org_id.clone(),
                change_id: change.change_id.clone(),
                repository: change.repository.clone(),
                user_id: text(reviewer),
                state: *state,
            };
            out.emit(at, &review);
        }
    }
}

/// A moment in the person's working hours, as UTC.
fn working_time(
    rng: &mut Pcg64Mcg,
    shapes: &Shapes,
    person: &Person,
    midnight: DateTime<Utc>,
) -> Timestamp {
    let local_hour = if rng.random_bool(0.5) {
        shapes.morning.sample(rng)
    } else {
        shapes.afternoon.sample(rng)
    }
    .clamp(7.0, 20.5);
    let micros = ((local_hour - person.utc_offset_hours as f64) * 3_600e6) as i64;
    Timestamp(midnight + TimeDelta::microseconds(micros))
}

#[allow(clippy::too_many_arguments)]
fn emit_session(
    out: &mut DayWriter<'_>,
    rng: &mut Pcg64Mcg,
    shapes: &Shapes,
    org: &Organization,
    person: &Person,
    tool: &'static ToolProfile,
    start: Timestamp,
    session: u64,
    date: NaiveDate,
) -> &'static str {
    let team = &org.teams[person.team];
    let policy = org.policy.as_deref();
    let operation = pick(rng, tool.operations);
    let (model, provider) = {
        let choices: Vec<((&'static str, &'static str), u32)> =
            tool.models.iter().map(|(m, p, w)| ((*m, *p), *w)).collect();
        pick(rng, &choices)
    };
    let (tool, (model, provider), allowed) = match policy {
        Some(policy) => governed_use(policy, person, tool, (model, provider), date),
        None => (tool, (model, provider), None),
    };
    let mut repository = rng
        .random_bool(0.9)
        .then(|| &team.repositories[rng.random_range(0..team.repositories.len())]);
    let session_id = format!(
        "s-{}-{}-{session}",
        person.user_id,
        start.micros() / 1_000_000
    );
    let mean_events = match operation {
        Operation::Completion => 14.0,
        Operation::Agent => 7.0,
        _ => 3.0,
    } * person.intensity;
    let events = 1 + poisson(rng, mean_events);
    let data_class = if team.regulated && rng.random_bool(0.4) {
        DataClass::Confidential
    } else {
        pick(
            rng,
            &[
                (DataClass::Internal, 90),
                (DataClass::Public, 6),
                (DataClass::Restricted, 2),
                (DataClass::Confidential, 2),
            ],
        )
    };
    let data_class = match allowed {
        Some(allowed) => governed_class(rng, data_class, allowed),
        None => data_class,
    };
    let mut domain = pick(
        rng,
        &[(Domain::Green, 85), (Domain::Yellow, 12), (Domain::Red, 3)],
    );
    if let Some(policy) = policy {
        domain = policy.domain_of(repository.map(String::as_str));
        if domain == Domain::Red && !rng.random_bool(RED_SESSIONS_KEPT) {
            repository = None;
            domain = policy.domain_of(None);
        }
    }
    let gateway_priced = rng.random_bool(0.3);
    let ticket = rng
        .random_bool(0.25)
        .then(|| format!("{}-{}", team.name.to_uppercase(), rng.random_range(1..5000)));
    let mut at = start;
    for _ in 0..events {
        let (input, output) = match operation {
            Operation::Completion => (&shapes.small_input, &shapes.small_output),
            Operation::Agent => (&shapes.agent_input, &shapes.agent_output),
            _ => (&shapes.chat_input, &shapes.chat_output),
        };
        let input_tokens = tokens(rng, input);
        let output_tokens = tokens(rng, output);
        let caches = tool.caches && operation != Operation::Completion;
        let cache_read = if caches {
            tokens(rng, &shapes.cache_read)
        } else {
            0
        };
        let cache_write = if caches && rng.random_bool(0.3) {
            tokens(rng, &shapes.cache_write)
        } else {
            0
        };
        let reasons = model.starts_with("gpt-5") || model.contains("opus");
        let reasoning = if reasons { output_tokens * 3 / 10 } else { 0 };
        let accepted = (operation == Operation::Completion).then(|| rng.random_bool(0.3));
        let writes_code =
            matches!(operation, Operation::Agent | Operation::Edit) || accepted == Some(true);
        let lines_added = writes_code.then(|| Count(1 + output_tokens / 12));
        let cost = gateway_priced.then(|| {
            let (price_in, price_out) = list_price(model);
            let usd = (input_tokens as f64 * price_in
                + output_tokens as f64 * price_out
                + cache_read as f64 * price_in * 0.1
                + cache_write as f64 * price_in * 1.25)
                / 1e6;
            Usd((usd * 1e6).round() / 1e6)
        });
        let event = AiUsage {
            schema_version: SchemaVersion::default(),
            event_id: out.next_id(),
            event_type: AiUsageTag::AiUsage,
            occurred_at: at,
            org_id: text(&org.org_id),
            user_id: text(&person.user_id),
            team: Some(text(&team.name)),
            tool: text(tool.tool),
            tool_version: Some(text(tool.version)),
            provider: Some(text(provider)),
            model: text(model),
            operation,
            session_id: Some(text(&session_id)),
            repository: repository.map(|r| Repository(Cow::Borrowed(r))),
            input_tokens: TokenCount(input_tokens),
            output_tokens: TokenCount(output_tokens),
            cache_read_tokens: TokenCount(cache_read),
            cache_write_tokens: TokenCount(cache_write),
            reasoning_tokens: TokenCount(reasoning),
            cost_usd: cost,
            data_class,
            domain: Some(domain),
            client: Some(tool.client),
            lines_added,
            lines_removed: lines_added.map(|Count(n)| Count(n / 4)),
            accepted,
            duration_ms: Some(Count(200 + output_tokens * 8)),
            attributes: ticket
                .as_deref()
                .map(|t| Attributes(vec![(text("ticket"), text(t))])),
        };
        out.emit(at, &event);
        let gap = shapes.gap_seconds.sample(rng).min(1800.0);
        at = Timestamp(at.0 + TimeDelta::microseconds((gap * 1e6) as i64));
    }
    tool.tool
}

/// A tool and model `policy` approves on `date` in place of the ones the
/// person reached for, with the data class the approval allows: the same
/// tool with another of its models, else the person's main, then second,
/// then any tool. People of a team that [`keeps_unapproved_tools`], and
/// everyone when nothing is approved, keep what they reached for (`None`:
/// no approval).
fn governed_use(
    policy: &dyn UsagePolicy,
    person: &Person,
    tool: &'static ToolProfile,
    model: (&'static str, &'static str),
    date: NaiveDate,
) -> (
    &'static ToolProfile,
    (&'static str, &'static str),
    Option<DataClass>,
) {
    if let Some(allowed) = policy.allowed_class(tool.tool, model.0, date) {
        return (tool, model, Some(allowed));
    }
    if keeps_unapproved_tools(person.team) {
        return (tool, model, None);
    }
    let candidates = [tool, &TOOLS[person.main_tool], &TOOLS[person.second_tool]]
        .into_iter()
        .chain(TOOLS.iter());
    for candidate in candidates {
        for (name, provider, _) in candidate.models {
            if let Some(allowed) = policy.allowed_class(candidate.tool, name, date) {
                return (candidate, (name, provider), Some(allowed));
            }
        }
    }
    (tool, model, None)
}

/// Deployments of each repository that changed today, and the incidents
/// that some of them cause.
fn emit_deployments(
    out: &mut DayWriter<'_>,
    rng: &mut Pcg64Mcg,
    shapes: &Shapes,
    org: &Organization,
    midnight: DateTime<Utc>,
    merged: &[(String, String, bool)],
) {
    for (team_index, team) in org.teams.iter().enumerate() {
        let members = &org.members[team_index];
        if members.is_empty() {
            continue;
        }
        for repository in &team.repositories {
            let changes: Vec<&(String, String, bool)> =
                merged.iter().filter(|(r, _, _)| r == repository).collect();
            if changes.is_empty() || !rng.random_bool(0.6) {
                continue;
            }
            let deployer = &org.people[members[rng.random_range(0..members.len())]];
            let ai_assisted = changes.iter().any(|(_, _, ai)| *ai);
            let at = working_time(rng, shapes, deployer, midnight);
            let service = repository.rsplit('/').next().unwrap_or(repository);
            let change_id = format!("deploy-{service}-{}", at.micros() / 1_000_000);
            let deployment = CodeChange {
                schema_version: SchemaVersion::default(),
                event_id: out.next_id(),
                event_type: CodeChangeTag::CodeChange,
                occurred_at: at,
                org_id: text(&org.org_id),
                change_id: BoundedText(Cow::Owned(change_id.clone())),
                kind: ChangeKind::Deployment,
                repository: Repository(Cow::Borrowed(repository)),
                user_id: text(&deployer.user_id),
                team: Some(text(&team.name)),
                ai_assisted,
                ai_tools: None,
                lines_added: None,
                lines_removed: None,
                ai_lines_added: None,
                reviewer_ids: None,
                domain: Some(
                    org.policy
                        .as_deref()
                        .map_or(Domain::Green, |p| p.domain_of(Some(repository))),
                ),
                service: Some(text(service)),
            };
            out.emit(at, &deployment);

            let failure_rate = if ai_assisted { 0.06 } else { 0.045 };
            if !rng.random_bool(failure_rate) {
                continue;
            }
            let started = Timestamp(at.0 + TimeDelta::minutes(rng.random_range(10..360)));
            let resolved = Timestamp(
                started.0 + TimeDelta::seconds((shapes.resolve_hours.sample(rng) * 3600.0) as i64),
            );
            let cause = if rng.random_bool(0.6) {
                Some(changes[rng.random_range(0..changes.len())].1.clone())
            } else if rng.random_bool(0.5) {
                Some(change_id)
            } else {
                None
            };
            let event_id = out.next_id();
            let incident_id = format!("INC-{}", event_id.as_str());
            let incident = Incident {
                schema_version: SchemaVersion::default(),
                event_id,
                event_type: IncidentTag::Incident,
                occurred_at: started,
                org_id: text(&org.org_id),
                incident_id: BoundedText(Cow::Owned(incident_id)),
                severity: pick(
                    rng,
                    &[
                        (Severity::Sev1, 2),
                        (Severity::Sev2, 10),
                        (Severity::Sev3, 38),
                        (Severity::Sev4, 50),
                    ],
                ),
                repositories: List(vec![Repository(Cow::Borrowed(repository))]),
                service: Some(text(service)),
                resolved_at: Some(resolved).filter(|at| out.has_happened(*at)),
                caused_by_change_id: cause.map(|c| BoundedText(Cow::Owned(c))),
            };
            out.emit(started, &incident);
        }
    }
}
