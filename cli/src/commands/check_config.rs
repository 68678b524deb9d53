//! `aitrail check-config --config aitrail.toml`: loads every section the
//! long-running commands read (`ingest`, `serve`, `retention daemon`, and
//! `collect` when the file configures it), the
//! way they read it, environment overrides included, so that a broken
//! deployment is refused where it is written (CI, a pre-deploy step)
//! rather than when its pods start. Exit 0 with one line of what was
//! checked; exit 2 with the first key that is wrong.

use std::io::Write;
use std::path::PathBuf;

use aitrail_ingest::config::ingest_consumer;
use aitrail_kafka::kafka_config_error;
use chrono::Utc;
use clap::Args;

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};

/// Flags of `aitrail check-config`.
#[derive(Args)]
pub struct CheckConfigArgs {
    /// The configuration file (every section: store, kafka, ingest,
    /// retention, server, prices). `AITRAIL_<SECTION>__<KEY>` variables
    /// override its values, as for the commands it configures.
    #[arg(long)]
    config: PathBuf,
}

/// Checks the file and prints one line saying what it holds.
pub fn run(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let checked = check(&file)?;
    writeln!(
        std::io::stdout().lock(),
        "{}: ok: {checked}",
        args.config.display()
    )?;
    Ok(ExitCode::Ok)
}

/// Loads each section as its command does and describes the result; the
/// error names the file and the key. A local store root is created, as
/// every command that opens the store does.
fn check(file: &ConfigFile) -> Result<String, UsageError> {
    let store = file.store()?;

    let kafka = file.kafka()?;
    // librdkafka refuses unknown properties and bad values when its
    // configuration is built, before any connection: the same refusal the
    // ingest meets at start, for its consumer and its dead-letter producer.
    for client in [ingest_consumer(&kafka), kafka.producer()] {
        client
            .create_native_config()
            .map_err(|err| match kafka_config_error(&err) {
                Some(err) => file.named(&err),
                None => file.named(&format!("kafka: {err}")),
            })?;
    }
    let group = kafka
        .group_id()
        .map_err(|err| file.named(&err))?
        .to_string();
    let ingest = file.ingest()?;

    let policy = file.policy()?;
    let schedule = match file.retention_schedule()? {
        Some(schedule) => match schedule.next_after(Utc::now()) {
            Some(next) => format!("schedule next at {}", next.format("%Y-%m-%dT%H:%M:%SZ")),
            None => "a schedule that never fires again".to_string(),
        },
        None => "no schedule".to_string(),
    };

    let server = file.server()?;
    file.prices()?;
    let collect = if file.has("collect") {
        let collect = file.collect()?;
        format!(
            "; [collect] listen {}, grpc {}, tokens {}",
            collect.listen,
            collect.grpc_listen,
            collect.tokens.len()
        )
    } else {
        String::new()
    };

    let spec = policy.spec();
    Ok(format!(
        "[store] {store}; [kafka] group {group}; [ingest] topics {}, dead letters to {}, \
         listen {}; [retention] tiers {}, rules {}, legal holds {}, {schedule}; \
         [server] listen {}, tokens {}; [[prices]]{collect}",
        ingest.topics.join(", "),
        ingest.dlq_topic,
        ingest.listen,
        spec.tiers.len(),
        spec.rules.len(),
        spec.legal_holds.len(),
        server.listen,
        server.tokens.len(),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const EXAMPLE: &str = include_str!("../../../deploy/aitrail.toml");

    /// The example, read as if from `deploy/`, with a store root that
    /// creates nothing and the overrides `vars`.
    fn example(vars: &[(&str, &str)]) -> Result<String, UsageError> {
        let path = Path::new("deploy/aitrail.toml");
        let vars = [("AITRAIL_STORE__ROOT", "s3://bucket/prefix")]
            .iter()
            .chain(vars)
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let file = ConfigFile::parse(EXAMPLE, path, vars)?;
        check(&file)
    }

    #[test]
    fn the_example_in_deploy_passes() {
        let line = example(&[]).unwrap();
        assert!(line.contains("[store] s3://bucket/prefix"), "{line}");
        assert!(line.contains("[kafka] group aitrail-ingest"), "{line}");
        assert!(line.contains("tiers 2, rules 2, legal holds 0"), "{line}");
        assert!(line.contains("schedule next at"), "{line}");
        assert!(line.contains("tokens 2"), "{line}");
        assert!(line.contains("[collect] listen 127.0.0.1:4318"), "{line}");
    }

    #[test]
    fn a_wrong_value_anywhere_is_named() {
        for (var, value, named) in [
            ("AITRAIL_STORE__ROOT", "ftp://host/x", "store.root"),
            ("AITRAIL_KAFKA__GROUP_ID", "", "kafka.\"group.id\""),
            (
                "AITRAIL_KAFKA__ENABLE_AUTO_COMMIT",
                "true",
                "enable.auto.commit",
            ),
            (
                "AITRAIL_KAFKA__FETCH_MAX_BITES",
                "1",
                "kafka.\"fetch.max.bites\"",
            ),
            (
                "AITRAIL_KAFKA__SECURITY_PROTOCOL",
                "carrier_pigeon",
                "security.protocol",
            ),
            (
                "AITRAIL_INGEST__DLQ_TOPIC",
                "ai-audit.events",
                "ingest.dlq_topic",
            ),
            ("AITRAIL_INGEST__MAX_BATCH_ROWZ", "1", "max_batch_rowz"),
            (
                "AITRAIL_RETENTION__SCHEDULE",
                "nightly",
                "retention.schedule",
            ),
            ("AITRAIL_RETENTION__DEFAULT_TIER", "gold", "default_tier"),
            ("AITRAIL_SERVER__K_ANONYMITY", "0", "server.k_anonymity"),
            ("AITRAIL_SERVER__LISTN", "0.0.0.0:8080", "listn"),
        ] {
            let err = example(&[(var, value)]).unwrap_err().0;
            assert!(err.contains(named), "{var}={value}: {err}");
            assert!(!err.contains('\n'), "{var}={value}: one line: {err}");
        }
    }

    #[test]
    fn a_policy_file_is_read_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("retention.toml");
        std::fs::write(
            &policy,
            "default_tier = \"gold\"\n[[tiers]]\nname = \"gold\"\nkeep_days = 10\n",
        )
        .unwrap();
        let path = dir.path().join("aitrail.toml");
        let text = format!(
            "[kafka]\n\"bootstrap.servers\" = \"b:9092\"\n\"group.id\" = \"g\"\n\
             [retention]\npolicy = \"retention.toml\"\n\
             [[server.tokens]]\nname = \"a\"\nrole = \"compliance\"\nsha256 = \"{}\"\n",
            "ab".repeat(32)
        );
        let vars = [("AITRAIL_STORE__ROOT", "s3://bucket/prefix")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let file = ConfigFile::parse(&text, &path, vars).unwrap();
        let line = check(&file).unwrap();
        assert!(
            line.contains("tiers 1, rules 0, legal holds 0, no schedule"),
            "{line}"
        );
        std::fs::remove_file(&policy).unwrap();
        let err = check(&file).unwrap_err().0;
        assert!(err.contains("retention.toml"), "{err}");
    }
}
