//! The AI CLIs themselves, from npm — Claude Code, Codex and Gemini CLI at
//! the versions scripts/test installs — each run once, headless and
//! offline, against a stand-in for its model API that asks for one shell
//! command and then answers, each answer with fixed usage. With telemetry
//! pointed at the collector and the CLIs' content logging switched on,
//! every model call the CLI made lands on Kafka once, with the stand-in's
//! exact figures (cache tokens apart from input, DESIGN §2), the model it
//! asked for, the session it printed and the user of its
//! `OTEL_RESOURCE_ATTRIBUTES`; neither the prompt nor the command's
//! argument reaches Kafka or a log line.

mod common;
mod model_api;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aitrail_collect::Pseudonyms;
use chrono::{DateTime, Utc};
use common::{CapturedLogs, Harness, IDENTITY_KEY, TOKEN, TOPIC, config};
use model_api::{ANTHROPIC, Figures, GEMINI, ModelApi, OPENAI};
use serde_json::Value;
use tempfile::TempDir;

/// The longest a CLI may take for its one prompt.
const CLI_DEADLINE: Duration = Duration::from_secs(90);

/// The npm prefix holding the CLIs: `AITRAIL_AI_CLIS`, else where
/// scripts/test installs them.
fn clis() -> PathBuf {
    std::env::var_os("AITRAIL_AI_CLIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/aitrail-npm/clis")
        })
}

/// The executable of an installed CLI; fails, saying how to install it,
/// when it is missing.
fn cli(name: &str) -> PathBuf {
    let path = clis().join("node_modules/.bin").join(name);
    assert!(
        path.exists(),
        "{}: not installed; run scripts/test, which installs @anthropic-ai/claude-code, \
         @openai/codex and @google/gemini-cli into ~/.cache/aitrail-npm/clis \
         (AITRAIL_AI_CLIS names another npm prefix)",
        path.display()
    );
    path
}

/// One CLI's run: a collector, a stand-in model API, a home and a working
/// directory of its own, and the words that must not leave the machine.
struct Trial {
    harness: Harness,
    api: ModelApi,
    logs: CapturedLogs,
    dir: TempDir,
    /// Who runs the CLI, as the fleet's `OTEL_RESOURCE_ATTRIBUTES` say.
    user: String,
    /// A word of the prompt, which the CLI exports when asked to log
    /// prompts.
    ticket: String,
    /// The argument of the shell command the stand-in asks for.
    word: String,
    started: DateTime<Utc>,
}

/// What the events of one run must say.
struct Expected<'a> {
    tool: &'a str,
    tool_version: Option<&'a str>,
    provider: &'a str,
    session: &'a str,
    figures: Figures,
}

impl Trial {
    async fn start(tool: &str) -> Trial {
        let logs = CapturedLogs::shared();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let pid = std::process::id();
        let word = format!("aitrail-tool-arg-{tool}-{pid}");
        Trial {
            harness: Harness::start(config()).await,
            api: ModelApi::start(dir.path(), &word),
            logs,
            user: format!("{tool}-user@example.com"),
            ticket: format!("aitrail-prompt-{tool}-{pid}"),
            word,
            dir,
            started: Utc::now(),
        }
    }

    /// What the user asks the CLI.
    fn prompt(&self) -> String {
        format!("Run the check for ticket {} and report", self.ticket)
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The CLI `program` in a clean environment: the test's `PATH` (node),
    /// the trial's home and working directory, the fleet's resource
    /// attributes, and nothing else.
    fn command(&self, program: &Path) -> tokio::process::Command {
        let attributes = format!(
            "aitrail.user={},aitrail.team=payments-platform,aitrail.repository=github.com/acme/payments",
            self.user
        );
        let mut command = tokio::process::Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("OTEL_RESOURCE_ATTRIBUTES", attributes)
            .current_dir(self.dir.path().join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Checks what the collector made of the run, then stops it.
    async fn verify(mut self, expected: Expected<'_>) {
        let asked = self.api.asked();
        let calls: Vec<_> = asked.iter().filter(|a| a.is_model_call()).collect();
        let answers: Vec<_> = asked.iter().map(|a| (&a.path, &a.answered)).collect();
        assert!(
            calls.iter().any(|a| a.answered == "tool_call"),
            "the stand-in asked for the command: {answers:#?}"
        );
        assert!(
            calls
                .iter()
                .filter_map(|a| a.tool_result.as_deref())
                .any(|result| result.contains(&self.word)),
            "the command ran and its output came back: {answers:#?}"
        );

        let messages = self
            .harness
            .read_until(TOPIC, |read| read.len() >= calls.len());
        let produced = self.harness.records("produced");
        let rejected = self.harness.records("rejected");
        let ignored = self.harness.records("ignored");
        let metrics = self.harness.running().collector().metrics().encode();
        self.harness.stop().await;
        let refused: Vec<_> = metrics
            .lines()
            .filter(|l| l.starts_with("aitrail_collect_requests_total"))
            .filter(|l| !l.contains("status=\"200\""))
            .collect();
        assert!(
            refused.is_empty(),
            "every export was accepted: {refused:#?}"
        );
        assert!(
            ignored > 0,
            "the CLI's other records (its prompt, the command) arrived"
        );
        let events: Vec<Value> = messages.iter().map(|m| m.json()).collect();
        assert_eq!(
            events.len(),
            calls.len(),
            "one event per model call: {events:#?}"
        );
        assert_eq!(produced, calls.len() as u64, "nothing else was produced");
        assert_eq!(rejected, 0, "nothing went to the dead-letter topic");

        let mut asked_models: Vec<_> = calls.iter().filter_map(|a| a.model.clone()).collect();
        let mut event_models: Vec<_> = events
            .iter()
            .map(|e| e["model"].as_str().unwrap_or_default().to_string())
            .collect();
        asked_models.sort();
        event_models.sort();
        assert_eq!(
            event_models, asked_models,
            "each event names its call's model"
        );

        let user = Pseudonyms::new(IDENTITY_KEY).user_id(&self.user);
        let mut ids: Vec<_> = events.iter().map(|e| e["event_id"].to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), events.len(), "event ids are distinct");
        let now = Utc::now();
        for event in &events {
            assert_eq!(event["event_type"], "ai_usage", "{event}");
            assert_eq!(event["tool"], expected.tool, "{event}");
            assert_eq!(
                event["tool_version"].as_str(),
                expected.tool_version,
                "{event}"
            );
            assert_eq!(event["provider"], expected.provider, "{event}");
            assert_eq!(event["session_id"], expected.session, "{event}");
            assert_eq!(event["user_id"], user.as_str(), "{event}");
            assert_eq!(event["org_id"], "acme", "{event}");
            assert_eq!(event["team"], "payments-platform", "{event}");
            assert_eq!(event["repository"], "github.com/acme/payments", "{event}");
            assert_eq!(event["client"], "cli", "{event}");
            assert_eq!(figures(event), expected.figures, "{event}");
            let occurred: DateTime<Utc> = event["occurred_at"].as_str().unwrap().parse().unwrap();
            assert!(
                occurred >= self.started - chrono::Duration::seconds(1) && occurred <= now,
                "{event}: occurred_at is the call's time"
            );
        }

        let logged = self.logs.text();
        for message in &messages {
            let bytes = String::from_utf8_lossy(&message.bytes()).into_owned();
            for content in [&self.ticket, &self.word] {
                assert!(
                    !bytes.contains(content.as_str()),
                    "{content} reached Kafka: {bytes}"
                );
            }
            assert!(
                !bytes.contains("@example.com"),
                "an email reached Kafka: {bytes}"
            );
        }
        for content in [&self.ticket, &self.word, &self.user] {
            assert!(!logged.contains(content.as_str()), "{content} was logged");
        }
    }
}

/// Runs a CLI's `command` to its end; its standard output.
async fn run(mut command: tokio::process::Command) -> String {
    let program = format!("{:?}", command.as_std().get_program());
    let child = command
        .spawn()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    let output = tokio::time::timeout(CLI_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish within {CLI_DEADLINE:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} failed ({})\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// An event's token counts, an absent count being 0.
fn figures(event: &Value) -> Figures {
    let count = |field: &str| event[field].as_i64().unwrap_or(0);
    Figures {
        input: count("input_tokens"),
        output: count("output_tokens"),
        cache_read: count("cache_read_tokens"),
        cache_write: count("cache_write_tokens"),
        reasoning: count("reasoning_tokens"),
    }
}

/// The session id in a CLI's JSON output.
fn session_in(output: &str, field: &str) -> String {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .chain(serde_json::from_str::<Value>(output).ok())
        .find_map(|value| value[field].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in the output:\n{output}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_exports_every_api_request_with_its_figures() {
    let claude = cli("claude");
    let trial = Trial::start("claude-code").await;
    let mut command = trial.command(&claude);
    command
        .args(["-p", &trial.prompt(), "--model", "claude-sonnet-4-5"])
        .args(["--allowedTools", "Bash", "--output-format", "json"])
        .env("ANTHROPIC_BASE_URL", trial.api.base_url())
        .env("ANTHROPIC_API_KEY", "stand-in-key")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("CLAUDE_CODE_ENABLE_TELEMETRY", "1")
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", trial.harness.http())
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer {TOKEN}"),
        )
        .env("OTEL_LOGS_EXPORT_INTERVAL", "100")
        .env("OTEL_LOG_USER_PROMPTS", "1")
        .env("OTEL_LOG_TOOL_DETAILS", "1");
    let output = run(command).await;
    let session = session_in(&output, "session_id");
    trial
        .verify(Expected {
            tool: "claude-code",
            tool_version: Some("2.1.332"),
            provider: "anthropic",
            session: &session,
            figures: ANTHROPIC,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_exports_every_completed_response_with_its_figures() {
    let codex = cli("codex");
    let trial = Trial::start("codex").await;
    let codex_home = trial.home().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let settings = format!(
        r#"model = "gpt-5-codex"
model_provider = "stand-in"

[model_providers.stand-in]
name = "stand-in"
base_url = "{api}/v1"
env_key = "STAND_IN_API_KEY"
wire_api = "responses"

[otel]
log_user_prompt = true
exporter = {{ otlp-http = {{ endpoint = "{collector}/v1/logs", protocol = "json", headers = {{ authorization = "Bearer {TOKEN}" }} }} }}
metrics_exporter = "none"
"#,
        api = trial.api.base_url(),
        collector = trial.harness.http(),
    );
    std::fs::write(codex_home.join("config.toml"), settings).unwrap();
    let mut command = trial.command(&codex);
    command
        .args(["exec", "--json", "--skip-git-repo-check"])
        .args(["--sandbox", "danger-full-access", &trial.prompt()])
        .env("CODEX_HOME", &codex_home)
        .env("STAND_IN_API_KEY", "stand-in-key");
    let output = run(command).await;
    let session = session_in(&output, "thread_id");
    trial
        .verify(Expected {
            tool: "codex",
            tool_version: Some("0.171.0"),
            provider: "openai",
            session: &session,
            figures: OPENAI,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_exports_every_api_response_with_its_figures() {
    let gemini = cli("gemini");
    let trial = Trial::start("gemini-cli").await;
    let gemini_home = trial.home().join(".gemini");
    std::fs::create_dir_all(&gemini_home).unwrap();
    let settings = serde_json::json!({
        "security": { "auth": { "selectedType": "gemini-api-key" } },
        "telemetry": {
            "enabled": true,
            "target": "local",
            "otlpEndpoint": trial.harness.http(),
            "otlpProtocol": "http",
            "logPrompts": true,
        },
    });
    std::fs::write(gemini_home.join("settings.json"), settings.to_string()).unwrap();
    let mut command = trial.command(&gemini);
    command
        .args([
            "-p",
            &trial.prompt(),
            "--approval-mode",
            "yolo",
            "-o",
            "json",
        ])
        .env("GEMINI_API_KEY", "stand-in-key")
        .env("GOOGLE_GEMINI_BASE_URL", trial.api.base_url())
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer {TOKEN}"),
        );
    let output = run(command).await;
    let session = session_in(&output, "session_id");
    trial
        .verify(Expected {
            tool: "gemini-cli",
            tool_version: None,
            provider: "google",
            session: &session,
            figures: GEMINI,
        })
        .await;
}
