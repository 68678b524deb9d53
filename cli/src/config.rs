//! `aitrail.toml`, the one configuration file of the long-running commands
//! (DESIGN §8): each command reads the sections it needs; a section or key
//! nobody knows is refused, naming it; `AITRAIL_<SECTION>__<KEY>` overrides
//! a value.

use std::path::{Path, PathBuf};

use aitrail_collect::CollectConfig;
use aitrail_governance::GovernancePolicy;
use aitrail_ingest::IngestConfig;
use aitrail_ingest::config::check_kafka;
use aitrail_kafka::KafkaConfig;
use aitrail_query::http::config::ServerConfig;
use aitrail_query::{ModelPrice, Prices};
use aitrail_store::policy::RetentionPolicy;
use aitrail_store::schedule::Schedule;
use aitrail_store::{Policy, StoreRoot};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::exit::UsageError;

/// The sections of DESIGN §8.
const SECTIONS: [&str; 9] = [
    "store",
    "kafka",
    "ingest",
    "retention",
    "server",
    "prices",
    "collect",
    "integrity",
    "governance",
];

/// The parsed file, with environment overrides applied.
pub struct ConfigFile {
    path: PathBuf,
    table: Table,
}

/// The `[store]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A local directory or `s3://bucket/prefix`.
    #[serde(default = "default_root")]
    pub root: String,
}

fn default_root() -> String {
    "./aitrail-data".to_string()
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            root: default_root(),
        }
    }
}

impl ConfigFile {
    /// Reads `path` and applies the `AITRAIL_<SECTION>__<KEY>` variables of
    /// the environment.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| UsageError(format!("cannot read {}: {err}", path.display())))?;
        Self::parse(&text, path, std::env::vars())
    }

    /// Parses `text` (read from `path`) and applies the overrides among `vars`.
    pub fn parse(
        text: &str,
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, UsageError> {
        let name = path.display();
        let mut table: Table = text.parse().map_err(|err: toml::de::Error| {
            UsageError(format!("{name}: {}", one_line(&err.to_string())))
        })?;
        for (var, value) in vars {
            let Some((section, key)) = override_key(&var) else {
                continue;
            };
            if !SECTIONS.contains(&section.as_str()) {
                return Err(UsageError(format!(
                    "{var}: `{section}` is not a section of {name} ({})",
                    SECTIONS.join(", ")
                )));
            }
            // `AITRAIL_COLLECT__GITHUB__SECRET` sets `secret` of
            // [collect.github]: each further `__` is one table deeper.
            let mut path: Vec<String> = key.split("__").map(str::to_string).collect();
            let leaf = path.pop().unwrap_or_default();
            let mut entries = &mut table;
            let mut at = Vec::new();
            for name in std::iter::once(section.clone()).chain(path) {
                at.push(name.clone());
                let entry = entries
                    .entry(name)
                    .or_insert_with(|| Value::Table(Table::new()));
                let Value::Table(inner) = entry else {
                    return Err(UsageError(format!(
                        "{var}: [{}] is not a table",
                        at.join(".")
                    )));
                };
                entries = inner;
            }
            entries.insert(leaf, override_value(&value));
        }
        if let Some(section) = table.keys().find(|s| !SECTIONS.contains(&s.as_str())) {
            return Err(UsageError(format!(
                "{name}: unknown section `{section}` (sections: {})",
                SECTIONS.join(", ")
            )));
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            table,
        })
    }

    /// The section `name` as `T`, its defaults if absent; an unknown or
    /// invalid key is refused with a message naming it.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, UsageError> {
        match self.table.get(name) {
            None => Ok(T::default()),
            Some(value) => value.clone().try_into().map_err(|err: toml::de::Error| {
                UsageError(format!(
                    "{}: [{name}]: {}",
                    self.path.display(),
                    one_line(&err.to_string())
                ))
            }),
        }
    }

    /// `[kafka]`, refused when the ingest could not run with it.
    pub fn kafka(&self) -> Result<KafkaConfig, UsageError> {
        let kafka: KafkaConfig = self.section("kafka")?;
        check_kafka(&kafka).map_err(|err| self.named(&err))?;
        Ok(kafka)
    }

    /// `[ingest]`, refused when the ingest could not run with it.
    pub fn ingest(&self) -> Result<IngestConfig, UsageError> {
        let ingest: IngestConfig = self.section("ingest")?;
        ingest.validate().map_err(|err| self.named(&err))?;
        Ok(ingest)
    }

    /// Whether the file has the section `name` (or an override of it).
    pub fn has(&self, name: &str) -> bool {
        self.table.contains_key(name)
    }

    /// `[kafka]` for a producer: only the brokers are required.
    pub fn kafka_producer(&self) -> Result<KafkaConfig, UsageError> {
        let kafka: KafkaConfig = self.section("kafka")?;
        kafka.brokers().map_err(|err| self.named(&err))?;
        Ok(kafka)
    }

    /// `[collect]`, refused when the collector could not run with it.
    pub fn collect(&self) -> Result<CollectConfig, UsageError> {
        let collect: CollectConfig = self.section("collect")?;
        collect.validate().map_err(|err| self.named(&err))?;
        Ok(collect)
    }

    /// `[server]`, refused when the query service could not run with it.
    pub fn server(&self) -> Result<ServerConfig, UsageError> {
        let server: ServerConfig = self.section("server")?;
        server.validate().map_err(|err| self.named(&err))?;
        Ok(server)
    }

    /// `err` as a usage error naming this file.
    pub fn named(&self, err: &dyn std::fmt::Display) -> UsageError {
        UsageError(format!("{}: {err}", self.path.display()))
    }

    /// The store root of `[store]`.
    pub fn store(&self) -> Result<StoreRoot, UsageError> {
        let section: StoreSection = self.section("store")?;
        StoreRoot::parse(&section.root)
            .map_err(|err| UsageError(format!("{}: store.root: {err}", self.path.display())))
    }

    /// The `schedule` of `[retention]`: when the retention purge and
    /// compaction run inside a long-running process; `None` when not set.
    pub fn retention_schedule(&self) -> Result<Option<Schedule>, UsageError> {
        let name = self.path.display();
        match self.table.get("retention").and_then(|s| s.get("schedule")) {
            None => Ok(None),
            Some(Value::String(expression)) => expression
                .parse()
                .map(Some)
                .map_err(|err| UsageError(format!("{name}: retention.schedule: {err}"))),
            Some(_) => Err(UsageError(format!(
                "{name}: retention.schedule: must be a cron expression string"
            ))),
        }
    }

    /// The price table of `[[prices]]`, empty when absent.
    pub fn prices(&self) -> Result<Prices, UsageError> {
        let entries: Vec<ModelPrice> = self.section("prices")?;
        Prices::new(entries).map_err(|err| UsageError(format!("{}: {err}", self.path.display())))
    }

    /// The governance policy of `[governance]` (DESIGN §10): the file its
    /// `policy` key names (relative to this file), or the policy inline;
    /// `None` when the section is absent.
    pub fn governance(&self) -> Result<Option<GovernancePolicy>, UsageError> {
        let Some(section) = self.table.get("governance") else {
            return Ok(None);
        };
        let name = format!("{} [governance]", self.path.display());
        let Value::Table(section) = section else {
            return Err(UsageError(format!("{name}: not a table")));
        };
        let mut spec = section.clone();
        let policy = match spec.remove("policy") {
            Some(Value::String(file)) => {
                if let Some(key) = spec.keys().next() {
                    return Err(UsageError(format!(
                        "{name}: `{key}` cannot be set together with `policy`"
                    )));
                }
                let base = self.path.parent().unwrap_or(Path::new("."));
                GovernancePolicy::load(&base.join(file))
            }
            Some(_) => return Err(UsageError(format!("{name}: `policy` must be a file path"))),
            None => GovernancePolicy::from_toml(Value::Table(spec), &name),
        };
        policy.map(Some).map_err(|err| UsageError(err.to_string()))
    }

    /// The retention policy of `[retention]`: inline, or the file its
    /// `policy` key names (relative to this file); the default policy when
    /// the section is absent. `schedule` is read by [`ConfigFile::retention_schedule`].
    pub fn policy(&self) -> Result<Policy, UsageError> {
        let Some(section) = self.table.get("retention") else {
            return Ok(Policy::default());
        };
        let Value::Table(section) = section else {
            return Err(UsageError(format!(
                "{}: [retention] is not a table",
                self.path.display()
            )));
        };
        let mut spec = section.clone();
        spec.remove("schedule");
        let name = format!("{} [retention]", self.path.display());
        match spec.remove("policy") {
            Some(Value::String(file)) => {
                if let Some(key) = spec.keys().next() {
                    return Err(UsageError(format!(
                        "{name}: `{key}` cannot be set together with `policy`"
                    )));
                }
                let base = self.path.parent().unwrap_or(Path::new("."));
                Policy::load(&base.join(file)).map_err(|err| UsageError(err.to_string()))
            }
            Some(_) => Err(UsageError(format!("{name}: `policy` must be a file path"))),
            None => {
                let spec: RetentionPolicy =
                    Value::Table(spec)
                        .try_into()
                        .map_err(|err: toml::de::Error| {
                            UsageError(format!("{name}: {}", one_line(&err.to_string())))
                        })?;
                Policy::new(spec, &name).map_err(|err| UsageError(err.to_string()))
            }
        }
    }
}

/// `AITRAIL_INGEST__MAX_BATCH_ROWS` → (`ingest`, `max_batch_rows`). In
/// `[kafka]` keys are librdkafka properties, dotted: there `_` stands for
/// `.` (`AITRAIL_KAFKA__BOOTSTRAP_SERVERS` → `bootstrap.servers`).
fn override_key(var: &str) -> Option<(String, String)> {
    let rest = var.strip_prefix("AITRAIL_")?;
    let (section, key) = rest.split_once("__")?;
    let section = section.to_ascii_lowercase();
    let mut key = key.to_ascii_lowercase();
    if section == "kafka" {
        key = key.replace('_', ".");
    }
    Some((section, key))
}

/// An override is read as a TOML value when it is one (`100`, `true`,
/// `["a", "b"]`), else taken as a string.
fn override_value(value: &str) -> Value {
    format!("v = {value}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()))
}

fn one_line(message: &str) -> String {
    message.trim().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<ConfigFile, UsageError> {
        ConfigFile::parse(
            text,
            Path::new("aitrail.toml"),
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        rows: Option<u64>,
        topics: Option<Vec<String>>,
    }

    #[test]
    fn unknown_sections_and_keys_are_named() {
        let err = parse("[ingestt]\nrows = 1\n", &[]).err().unwrap();
        assert!(err.0.contains("`ingestt`"), "{}", err.0);
        let config = parse("[ingest]\nrowz = 1\n", &[]).unwrap();
        let err = config.section::<Section>("ingest").unwrap_err();
        assert!(err.0.contains("rowz"), "{}", err.0);
    }

    #[test]
    fn environment_overrides_values() {
        let config = parse(
            "[ingest]\nrows = 1\n",
            &[
                ("AITRAIL_INGEST__ROWS", "7"),
                ("AITRAIL_INGEST__TOPICS", r#"["a", "b"]"#),
                ("AITRAIL_KAFKA__BOOTSTRAP_SERVERS", "broker:9092"),
                ("AITRAIL_LOG", "ignored"),
            ],
        )
        .unwrap();
        let section: Section = config.section("ingest").unwrap();
        assert_eq!(section.rows, Some(7));
        assert_eq!(section.topics, Some(vec!["a".to_string(), "b".to_string()]));
        let kafka: toml::Table = config.section("kafka").unwrap();
        assert_eq!(kafka["bootstrap.servers"].as_str(), Some("broker:9092"));
        let err = parse("", &[("AITRAIL_NOPE__X", "1")]).err().unwrap();
        assert!(err.0.contains("AITRAIL_NOPE__X"), "{}", err.0);
    }

    #[test]
    fn each_further_double_underscore_is_a_table_deeper() {
        let config = parse(
            "[collect.github]\nsecret = \"in the file\"\n",
            &[("AITRAIL_COLLECT__GITHUB__SECRET", "from the environment")],
        )
        .unwrap();
        let collect: toml::Table = config.section("collect").unwrap();
        assert_eq!(
            collect["github"]["secret"].as_str(),
            Some("from the environment")
        );
        let err = parse(
            "[collect]\ngithub = 1\n",
            &[("AITRAIL_COLLECT__GITHUB__SECRET", "x")],
        )
        .err()
        .unwrap();
        assert!(
            err.0.contains("[collect.github] is not a table"),
            "{}",
            err.0
        );
    }

    #[test]
    fn retention_is_inline_or_a_file() {
        let inline = parse(
            "[retention]\ndefault_tier = \"gold\"\nschedule = \"0 3 * * *\"\n[[retention.tiers]]\nname = \"gold\"\nkeep_days = 10\n",
            &[],
        )
        .unwrap();
        assert_eq!(inline.policy().unwrap().spec().default_tier, "gold");
        let both = parse(
            "[retention]\npolicy = \"r.toml\"\ndefault_tier = \"gold\"\n",
            &[],
        )
        .unwrap();
        assert!(both.policy().unwrap_err().0.contains("default_tier"));
    }

    #[test]
    fn the_retention_schedule_is_a_checked_cron_expression() {
        let config = parse("[retention]\nschedule = \"*/5 * * * * *\"\n", &[]).unwrap();
        assert!(config.retention_schedule().unwrap().is_some());
        assert!(
            parse("", &[])
                .unwrap()
                .retention_schedule()
                .unwrap()
                .is_none()
        );
        let bad = parse("[retention]\nschedule = \"every night\"\n", &[]).unwrap();
        let err = bad.retention_schedule().unwrap_err().0;
        assert!(err.contains("retention.schedule"), "{err}");
        assert!(err.contains("every night"), "{err}");
    }

    #[test]
    fn the_example_in_deploy_loads() {
        let text = include_str!("../../deploy/aitrail.toml");
        let config = parse(text, &[]).unwrap();
        let ingest: aitrail_ingest::config::IngestConfig = config.section("ingest").unwrap();
        ingest.validate().unwrap();
        assert_eq!(ingest.topics, ["ai-audit.events"]);
        let kafka: toml::Table = config.section("kafka").unwrap();
        assert_eq!(kafka["group.id"].as_str(), Some("aitrail-ingest"));
        let policy = config.policy().unwrap();
        assert_eq!(policy.spec().tiers.len(), 2);
        assert_eq!(policy.tier("regulated").unwrap().keep_days, 2557);
        assert!(config.retention_schedule().unwrap().is_some());
        let server: aitrail_query::http::config::ServerConfig = config.section("server").unwrap();
        server.validate().unwrap();
        assert_eq!(server.tokens.len(), 2);
        assert_eq!(server.k_anonymity, 5);
        config.prices().unwrap();
    }

    #[test]
    fn server_and_price_mistakes_are_named() {
        let config = parse("[server]\nk_anonimity = 3\n", &[]).unwrap();
        let err = config
            .section::<aitrail_query::http::config::ServerConfig>("server")
            .unwrap_err();
        assert!(err.0.contains("k_anonimity"), "{}", err.0);
        let config = parse(
            "[server]\n[[server.tokens]]\nname = \"a\"\nrole = \"leadership\"\nsha256 = \"abc\"\n",
            &[],
        )
        .unwrap();
        let server: aitrail_query::http::config::ServerConfig = config.section("server").unwrap();
        assert!(
            server
                .validate()
                .unwrap_err()
                .to_string()
                .contains("tokens[0].sha256")
        );
        let config = parse(
            "[[prices]]\nmodel = \"m\"\nvalid_from = \"2025-01-01\"\ninput = 1.0\noutput = 2.0\ncache_reed = 1.0\n",
            &[],
        )
        .unwrap();
        assert!(config.prices().unwrap_err().0.contains("cache_reed"));
    }
}
