//! `aitrail dev`: the whole pipeline in one process, with no outside
//! service (DESIGN §7): an embedded Kafka-protocol broker, a backfill of
//! generated history and then a live stream produced to it, the ingest, the
//! retention schedule, the query service with the dashboard, and the
//! collector on loopback (OTLP/HTTP and OTLP/gRPC). It prints where
//! everything is and a token per role once the backfill is stored,
//! and stops cleanly on Ctrl-C (or SIGTERM), committing what it holds.

mod broker;
mod feed;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aitrail_collect::Pseudonyms;
use aitrail_collect::config::{CollectConfig, CollectorToken};
use aitrail_governance::GovernancePolicy;
use aitrail_ingest::{IngestConfig, Settings};
use aitrail_kafka::KafkaConfig;
use aitrail_query::http::config::{Role, ServerConfig, TokenConfig};
use aitrail_query::http::{App, serve};
use aitrail_schemas::EventType;
use aitrail_schemas::generator::GenConfig;
use aitrail_store::retention::plan::partitions;
use aitrail_store::table::open_existing;
use aitrail_store::{Policy, StoreRoot};
use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Args;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::broker::Broker;
use self::feed::Feed;
use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::service::{LogFormat, run_service_with_filter, spawn_lifecycle};
use aitrail_store::integrity::SigningKey;

/// Flags of `aitrail dev`.
#[derive(Args)]
pub struct DevArgs {
    /// Address of the query service and the dashboard (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Address of the OTLP/HTTP collector (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:4318")]
    otlp_listen: String,
    /// Address of the OTLP/gRPC collector (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:4317")]
    otlp_grpc_listen: String,
    /// Where the store lives.
    #[arg(long, default_value = "./aitrail-data")]
    data_dir: PathBuf,
    /// Live events per second once the backfill is stored.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Developers in the synthetic organization.
    #[arg(long, default_value_t = 80)]
    users: usize,
    /// Days of history produced before the live stream, ending yesterday;
    /// skipped when the store already holds events.
    #[arg(long, default_value_t = 90)]
    backfill_days: u32,
    /// Seed of the generated organization.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Log lines as text for people or as JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The built-in configuration (`dev.toml`): tiers, the schedule, prices.
const DEFAULTS: &str = include_str!("dev.toml");

/// Without `RUST_LOG`, only `aitrail dev`'s own progress and warnings: the
/// services' per-batch logs would bury the lines a user needs.
const LOG_FILTER: &str = "warn,buoyant_kernel::snapshot::builder=off,\
     deltalake_core::kernel::transaction=error,aitrail::commands::dev=info,aitrail::service=info";

/// How often the store is checked while waiting for the backfill.
const STORED_POLL: Duration = Duration::from_millis(250);

/// Backfill events produced at most beyond what the store holds. The
/// embedded broker (librdkafka's mock cluster) keeps only the last 5 MiB of
/// each partition, ≈ 50k of these events: a backfill running further ahead
/// of the ingest would lose its oldest events before they are read.
const MAX_BACKLOG: u64 = 30_000;

/// The ingest running inside `aitrail dev`.
type Ingesting = JoinHandle<Result<aitrail_ingest::Summary, aitrail_ingest::IngestError>>;

/// Runs everything until Ctrl-C or SIGTERM.
pub fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let setup = Setup::new(&args)?;
    run_service_with_filter(args.log_format, LOG_FILTER, |shutdown| {
        dev(args, setup, shutdown)
    })
}

/// What the flags and the built-in configuration decide before anything runs.
struct Setup {
    root: StoreRoot,
    ingest: IngestConfig,
    policy: Policy,
    server: ServerConfig,
    tokens: [(Role, String); 2],
    collect: CollectConfig,
    collector_token: String,
    pseudonyms: Pseudonyms,
    prices: aitrail_query::Prices,
    schedule: Option<aitrail_store::schedule::Schedule>,
    governance: Arc<GovernancePolicy>,
}

impl Setup {
    fn new(args: &DevArgs) -> anyhow::Result<Self> {
        if !(args.rate.is_finite() && args.rate >= 0.0) {
            return Err(UsageError(format!("--rate {}: must be a number ≥ 0", args.rate)).into());
        }
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|err| UsageError(format!("--data-dir {}: {err}", args.data_dir.display())))?;
        let data_dir = args.data_dir.to_str().ok_or_else(|| {
            UsageError(format!("--data-dir {}: not UTF-8", args.data_dir.display()))
        })?;
        let root = StoreRoot::parse(data_dir)
            .map_err(|err| UsageError(format!("--data-dir {data_dir}: {err}")))?;
        let defaults = ConfigFile::parse(DEFAULTS, Path::new("aitrail dev"), std::env::vars())?;
        let ingest = IngestConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..defaults.section("ingest")?
        };
        let tokens = [Role::Compliance, Role::Leadership].map(|role| (role, new_token()));
        let server = ServerConfig {
            listen: args.listen.clone(),
            tokens: tokens
                .iter()
                .map(|(role, token)| TokenConfig {
                    name: format!("dev-{}", role.name()),
                    role: *role,
                    sha256: hex::encode(Sha256::digest(token.as_bytes())),
                })
                .collect(),
            ..defaults.section("server")?
        };
        server
            .validate()
            .map_err(|err| UsageError(format!("aitrail dev: {err}")))?;
        let collector_token = new_token();
        let collect = CollectConfig {
            listen: args.otlp_listen.clone(),
            grpc_listen: args.otlp_grpc_listen.clone(),
            default_org: "acme".to_string(),
            tokens: vec![CollectorToken {
                name: "dev-collector".to_string(),
                sha256: hex::encode(Sha256::digest(collector_token.as_bytes())),
                org_id: None,
            }],
            ..CollectConfig::default()
        };
        collect
            .validate()
            .map_err(|err| UsageError(format!("aitrail dev: {err}")))?;
        let pseudonyms = dev_pseudonyms(&args.data_dir)?;
        dev_signing(&args.data_dir)?;
        let policy = defaults.policy()?;
        // Older history would be rejected as `expired` and never stored,
        // which the backfill waits for.
        let shortest_keep = policy.spec().tiers.iter().map(|tier| tier.keep_days).min();
        if let Some(keep_days) = shortest_keep.filter(|keep| args.backfill_days >= *keep) {
            return Err(UsageError(format!(
                "--backfill-days {}: must be below {keep_days}, the shortest retention tier's keep_days",
                args.backfill_days
            ))
            .into());
        }
        Ok(Setup {
            root,
            ingest,
            policy,
            server,
            tokens,
            collect,
            collector_token,
            pseudonyms,
            prices: defaults.prices()?,
            schedule: defaults.retention_schedule()?,
            governance: Arc::new(
                GovernancePolicy::parse(aitrail_governance::EXAMPLE_POLICY, "the example policy")
                    .map_err(|err| UsageError(err.to_string()))?,
            ),
        })
    }
}

/// The pseudonyms of `AITRAIL_IDENTITY_KEY` when it is set; otherwise of
/// a key kept in the data directory, made on its first run, so that one
/// person keeps one pseudonym across runs of the same store.
fn dev_pseudonyms(data_dir: &Path) -> anyhow::Result<Pseudonyms> {
    if let Ok(pseudonyms) = Pseudonyms::from_environment() {
        return Ok(pseudonyms);
    }
    let path = data_dir.join("dev-identity.key");
    let key = match std::fs::read_to_string(&path) {
        Ok(key) => key,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = new_token();
            std::fs::write(&path, &key)
                .with_context(|| format!("cannot write {}", path.display()))?;
            key
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(Pseudonyms::new(key.trim().as_bytes()))
}

/// Signs the store's commits with the key `AITRAIL_SIGNING_KEY_FILE`
/// names when set; otherwise with a pair kept in `<data-dir>/dev-keys/`,
/// made on the first run, so that `aitrail verify --store <data-dir>
/// --public-key <data-dir>/dev-keys/signing.pub` checks the store.
fn dev_signing(data_dir: &Path) -> anyhow::Result<()> {
    if crate::signing::install(None, "dev")? {
        return Ok(());
    }
    let dir = data_dir.join("dev-keys");
    let private = dir.join("signing.key");
    if !private.exists() {
        SigningKey::generate(&dir).map_err(|err| UsageError(err.to_string()))?;
    }
    crate::signing::install_from(&private, "dev")?;
    Ok(())
}

/// A fresh random bearer token.
fn new_token() -> String {
    hex::encode(rand::rng().random::<[u8; 20]>())
}

async fn dev(args: DevArgs, setup: Setup, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let Setup {
        root,
        ingest,
        policy,
        server,
        tokens,
        collect,
        collector_token,
        pseudonyms,
        prices,
        schedule,
        governance,
    } = setup;
    let topic = ingest.topics[0].clone();
    let broker = Broker::start(&topic, &ingest.dlq_topic)
        .context("cannot start the embedded Kafka broker")?;
    let bootstrap = broker.bootstrap_servers();
    // The broker starts empty on every run: a group of its own keeps the
    // offsets the store recorded in earlier runs from applying to it.
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let settings = Settings {
        kafka: KafkaConfig::new([
            ("bootstrap.servers", bootstrap.as_str()),
            ("group.id", format!("aitrail-dev-{run}").as_str()),
            ("auto.offset.reset", "earliest"),
        ]),
        ingest,
        store: root.clone(),
        policy: policy.clone(),
    };

    let listener = tokio::net::TcpListener::bind(&server.listen)
        .await
        .map_err(|err| UsageError(format!("--listen {}: {err}", server.listen)))?;
    let address = listener.local_addr()?;
    let (app, background) = App::start(
        server,
        root.clone(),
        prices,
        super::report::registry(Some(Arc::clone(&governance))),
        aitrail_governance::policy_tables(&governance)?,
    )
    .await?;
    let serving = tokio::spawn(serve(listener, app, shutdown.clone()));
    let mut ingesting = tokio::spawn(aitrail_ingest::run(settings, shutdown.clone()));
    let lifecycle = spawn_lifecycle(schedule, root.clone(), policy, shutdown.clone());
    let producer = KafkaConfig::new([("bootstrap.servers", bootstrap.as_str())]);
    let collecting = aitrail_collect::start(&collect, &producer, pseudonyms, shutdown.clone())
        .await
        .map_err(|err| UsageError(format!("--otlp-listen: {err}")))?;
    let otlp = collecting.http;

    let now = Utc::now();
    let history = GenConfig {
        users: args.users,
        days: args.backfill_days,
        seed: args.seed,
        start: now.date_naive() - TimeDelta::days(i64::from(args.backfill_days)),
        not_after: Some(now),
        policy: Some(governance.clone()),
    };
    let mut feed = Feed::new(&bootstrap, &topic, history).context("cannot create the producer")?;
    let already = stored_rows(&root).await?;
    if already > 0 {
        tracing::info!(rows = already, store = %root, "the store already holds events: no backfill");
    } else {
        backfill(&mut feed, &root, &shutdown, &ingesting).await?;
    }

    let live = (!shutdown.is_cancelled()).then(|| {
        let shutdown = shutdown.clone();
        let rate = args.rate;
        tokio::spawn(async move { feed.live(rate, &run, shutdown).await })
    });
    if !shutdown.is_cancelled() {
        print_ready(&bootstrap, address, &tokens, otlp, &collector_token)?;
    }

    // An ingest that fails stops everything rather than leave a dashboard
    // that silently stops moving.
    let ingested = tokio::select! {
        () = shutdown.cancelled() => None,
        ingested = &mut ingesting => {
            shutdown.cancel();
            Some(ingested)
        }
    };
    let ingested = match ingested {
        Some(ingested) => ingested,
        None => ingesting.await,
    };
    let mut failures = Vec::new();
    if let Some(live) = live {
        match live.await? {
            Ok(sent) => tracing::info!(events = sent, "live stream stopped"),
            Err(err) => failures.push(anyhow::Error::from(err).context("live stream")),
        }
    }
    match ingested? {
        Ok(summary) => tracing::info!(?summary, "ingest stopped"),
        Err(err) => failures.push(anyhow::Error::from(err).context("ingest")),
    }
    if let Err(err) = serving.await? {
        failures.push(anyhow::Error::from(err).context("query service"));
    }
    if let Err(err) = collecting.finished().await {
        failures.push(anyhow::Error::from(err).context("collector"));
    }
    background.finish().await;
    if let Some(lifecycle) = lifecycle {
        lifecycle.await?;
    }
    drop(broker);
    match failures.into_iter().next() {
        Some(err) => Err(err),
        None => Ok(ExitCode::Ok),
    }
}

/// Events stored so far in the event tables.
async fn stored_rows(root: &StoreRoot) -> anyhow::Result<i64> {
    let mut rows = 0;
    for event_type in EventType::ALL {
        let name = event_type.table_name();
        if let Some(table) = open_existing(root, name).await? {
            rows += partitions(&table, name)?
                .iter()
                .map(|p| p.rows)
                .sum::<i64>();
        }
    }
    Ok(rows)
}

/// Produces the history, never further ahead of the ingest than
/// [`MAX_BACKLOG`], and waits until the store holds all of it (or
/// `shutdown` is cancelled).
async fn backfill(
    feed: &mut Feed,
    root: &StoreRoot,
    shutdown: &CancellationToken,
    ingesting: &Ingesting,
) -> anyhow::Result<()> {
    let mut sent = 0;
    // What the store was last seen to hold: it is read again only once the
    // backlog beyond it is full.
    let mut stored = 0;
    for day in 0..feed.history_days() {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        sent += feed.backfill_day(day).await?;
        if (day + 1) % 10 == 0 {
            tracing::info!(day = day + 1, events = sent, "backfill: producing");
        }
        if sent > stored + MAX_BACKLOG {
            feed.flush().await?;
            stored = wait_until_stored(root, sent - MAX_BACKLOG, shutdown, ingesting).await?;
        }
    }
    feed.flush().await?;
    tracing::info!(
        events = sent,
        "backfill produced; waiting for the ingest to store it"
    );
    wait_until_stored(root, sent, shutdown, ingesting).await?;
    Ok(())
}

/// Waits until the store holds `expected` events, the ingest stops, or
/// `shutdown` is cancelled; returns what the store holds.
async fn wait_until_stored(
    root: &StoreRoot,
    expected: u64,
    shutdown: &CancellationToken,
    ingesting: &Ingesting,
) -> anyhow::Result<u64> {
    loop {
        let stored = u64::try_from(stored_rows(root).await?).unwrap_or(0);
        if stored >= expected || shutdown.is_cancelled() {
            return Ok(stored);
        }
        if ingesting.is_finished() {
            anyhow::bail!("the ingest stopped before the backfill was stored");
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(STORED_POLL) => {}
        }
    }
}

/// The lines of DESIGN §7, on stdout, once everything is ready.
fn print_ready(
    bootstrap: &str,
    address: SocketAddr,
    tokens: &[(Role, String); 2],
    otlp: SocketAddr,
    collector_token: &str,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "kafka: {bootstrap}")?;
    writeln!(out, "dashboard: http://{address}/")?;
    for (role, token) in tokens {
        writeln!(out, "{} token: {token}", role.name())?;
    }
    writeln!(out, "otlp: http://{otlp}")?;
    writeln!(out, "collector token: {collector_token}")?;
    out.flush()
}
