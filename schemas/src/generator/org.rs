//! The synthetic organization: teams with repositories, people with tools,
//! time zones and the day each one starts using AI.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;

use std::sync::Arc;

use super::UsagePolicy;
use crate::vocab::{Client, Operation};

/// An AI coding tool as the generator uses it: which models it calls, for
/// what, and whether its requests reuse a prompt cache.
pub struct ToolProfile {
    /// The `tool` field.
    pub tool: &'static str,
    /// The `tool_version` field.
    pub version: &'static str,
    /// Where it runs.
    pub client: Client,
    /// `(model, provider, weight)`.
    pub models: &'static [(&'static str, &'static str, u32)],
    /// `(operation, weight)`.
    pub operations: &'static [(Operation, u32)],
    /// Whether its requests read and write a prompt cache.
    pub caches: bool,
}

/// The tools of the synthetic organization.
pub const TOOLS: [ToolProfile; 4] = [
    ToolProfile {
        tool: "claude-code",
        version: "2.0.14",
        client: Client::Cli,
        models: &[
            ("claude-sonnet-4-5", "anthropic", 70),
            ("claude-opus-4-1", "anthropic", 10),
            ("claude-haiku-4-5", "anthropic", 20),
        ],
        operations: &[
            (Operation::Agent, 70),
            (Operation::Chat, 20),
            (Operation::Edit, 10),
        ],
        caches: true,
    },
    ToolProfile {
        tool: "github-copilot",
        version: "1.372.0",
        client: Client::Ide,
        models: &[
            ("gpt-4.1", "openai", 50),
            ("claude-sonnet-4-5", "anthropic", 30),
            ("gpt-5-mini", "openai", 20),
        ],
        operations: &[
            (Operation::Completion, 75),
            (Operation::Chat, 15),
            (Operation::Edit, 5),
            (Operation::Review, 5),
        ],
        caches: false,
    },
    ToolProfile {
        tool: "cursor",
        version: "1.7.3",
        client: Client::Ide,
        models: &[
            ("claude-sonnet-4-5", "anthropic", 50),
            ("gpt-5", "openai", 30),
            ("gemini-2.5-pro", "google", 20),
        ],
        operations: &[
            (Operation::Completion, 40),
            (Operation::Agent, 30),
            (Operation::Chat, 20),
            (Operation::Edit, 10),
        ],
        caches: true,
    },
    ToolProfile {
        tool: "codex-cli",
        version: "0.46.0",
        client: Client::Cli,
        models: &[("gpt-5-codex", "openai", 70), ("gpt-5", "openai", 30)],
        operations: &[(Operation::Agent, 80), (Operation::Chat, 20)],
        caches: true,
    },
];

const TEAM_NAMES: [&str; 16] = [
    "payments",
    "trading",
    "platform",
    "search",
    "mobile",
    "web",
    "data",
    "infra",
    "identity",
    "growth",
    "ml",
    "security",
    "billing",
    "checkout",
    "messaging",
    "observability",
];

const REPO_SUFFIXES: [&str; 8] = [
    "api", "web", "worker", "infra", "lib", "service", "etl", "app",
];

/// A team: its repositories and the shape of its adoption curve.
pub struct Team {
    /// The `team` field.
    pub name: String,
    /// Canonical repository names the team works in.
    pub repositories: Vec<String>,
    /// Whether its work is regulated (its data is more often confidential).
    pub regulated: bool,
}

/// A developer of the organization.
pub struct Person {
    /// The pseudonymous `user_id`.
    pub user_id: String,
    /// Index into [`Organization::teams`].
    pub team: usize,
    /// Index into [`TOOLS`] of the tool this person uses most.
    pub main_tool: usize,
    /// Index into [`TOOLS`] of the tool this person tries now and then.
    pub second_tool: usize,
    /// Day of the generated span (may be negative or past its end) from
    /// which the person uses AI: a draw from the team's S-curve.
    pub adopts_on_day: f64,
    /// How much this person does, relative to the median developer.
    pub intensity: f64,
    /// Offset of the person's working day from UTC, in hours.
    pub utc_offset_hours: i64,
}

/// The whole synthetic organization, fixed by the seed.
pub struct Organization {
    /// The `org_id` of every event.
    pub org_id: String,
    /// Its teams.
    pub teams: Vec<Team>,
    /// Its developers.
    pub people: Vec<Person>,
    /// Indices into `people` of each team's members.
    pub members: Vec<Vec<usize>>,
    /// The policy its use mostly follows, if any.
    pub policy: Option<Arc<dyn UsagePolicy>>,
}

impl Organization {
    /// Draws an organization of `users` developers whose adoption unfolds
    /// over `days` days.
    pub fn new(rng: &mut Pcg64Mcg, users: usize, days: u32) -> Self {
        let team_count = (users / 12).clamp(1, 64);
        let teams: Vec<Team> = (0..team_count)
            .map(|i| {
                let base = TEAM_NAMES[i % TEAM_NAMES.len()];
                let name = match i / TEAM_NAMES.len() {
                    0 => base.to_string(),
                    n => format!("{base}-{}", n + 1),
                };
                let repo_count = rng.random_range(2..=5);
                let repositories = REPO_SUFFIXES[..repo_count]
                    .iter()
                    .map(|suffix| format!("github.example.com/acme/{name}-{suffix}"))
                    .collect();
                let regulated = matches!(base, "payments" | "trading" | "billing" | "identity");
                Team {
                    name,
                    repositories,
                    regulated,
                }
            })
            .collect();

        // Each team's S-curve: when half of those who will adopt have, how
        // fast it spreads, and how many ever do.
        let span = f64::from(days.max(1));
        let curves: Vec<(f64, f64, f64)> = (0..team_count)
            .map(|_| {
                let midpoint = rng.random_range(-0.2..0.8) * span;
                let spread = span * rng.random_range(0.05..0.15);
                let ceiling = rng.random_range(0.6..0.97);
                (midpoint, spread, ceiling)
            })
            .collect();

        let team_sizes = LogNormal::new(0.0, 0.5).expect("constant parameters are valid");
        let weights: Vec<f64> = (0..team_count).map(|_| team_sizes.sample(rng)).collect();
        let intensity = LogNormal::new(0.0, 0.45).expect("constant parameters are valid");
        let mut members = vec![Vec::new(); team_count];
        let people = (0..users)
            .map(|index| {
                let team = weighted_index(rng, &weights);
                members[team].push(index);
                let (midpoint, spread, ceiling) = curves[team];
                let adopts_on_day = if rng.random_bool(ceiling) {
                    let u: f64 = rng.random_range(1e-6..1.0 - 1e-6);
                    midpoint + spread * (u / (1.0 - u)).ln()
                } else {
                    f64::INFINITY
                };
                let main_tool = (team + usize::from(rng.random_bool(0.35))) % TOOLS.len();
                let second_tool = rng.random_range(0..TOOLS.len());
                Person {
                    user_id: format!("u-{:012x}", rng.random::<u64>() >> 16),
                    team,
                    main_tool,
                    second_tool,
                    adopts_on_day,
                    intensity: intensity.sample(rng),
                    utc_offset_hours: *[-8i64, -5, 0, 1, 1, 1, 2, 5]
                        .choose(rng)
                        .expect("the list is not empty"),
                }
            })
            .collect();
        Organization {
            org_id: "acme".to_string(),
            teams,
            people,
            members,
            policy: None,
        }
    }
}

/// Picks an index with probability proportional to its weight.
pub fn weighted_index(rng: &mut Pcg64Mcg, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = rng.random_range(0.0..total);
    for (index, weight) in weights.iter().enumerate() {
        if target < *weight {
            return index;
        }
        target -= weight;
    }
    weights.len() - 1
}

/// Picks one of `(item, weight)` choices by weight.
pub fn pick<T: Copy>(rng: &mut Pcg64Mcg, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut target = rng.random_range(0..total);
    for (item, weight) in choices {
        if target < *weight {
            return *item;
        }
        target -= weight;
    }
    choices[choices.len() - 1].0
}
