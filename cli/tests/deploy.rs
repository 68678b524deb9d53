//! `deploy/` as a platform engineer receives it. No Docker engine or
//! cluster runs here, so the files are checked for what can be known
//! without one: every file parses (a file of a kind this test does not know
//! fails it, so nothing slips past); every aitrail configuration in them
//! (the example files, the compose stack's mounted file, the Kubernetes
//! ConfigMap) passes `aitrail check-config` under the environment its
//! container gets; and the pieces agree with each other: one consumer
//! group, probes and annotations on the configured ports, the retention job
//! on the ingest's store and policy, Secrets that hold the referenced keys,
//! containers that never run as root.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

use common::stderr;

/// Environment variables, in the order a container gets them (later wins).
type Env = Vec<(String, String)>;

fn deploy_dir() -> PathBuf {
    common::manifest_dir().join("../deploy")
}

fn repo_root() -> PathBuf {
    common::manifest_dir()
        .join("..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Every file under `deploy/`, parsed by kind, by path relative to `deploy/`.
#[derive(Default)]
struct Deploy {
    yaml: BTreeMap<String, Vec<Yaml>>,
    toml: BTreeMap<String, toml::Table>,
    env_files: BTreeMap<String, Env>,
    dockerfiles: BTreeMap<String, String>,
}

impl Deploy {
    /// Walks `deploy/` and parses every file; panics naming a file that
    /// does not parse or whose kind is unknown here.
    fn load() -> Self {
        let root = deploy_dir();
        let mut deploy = Deploy::default();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("deploy/ is readable") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(&root)
                    .expect("under deploy/")
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|err| panic!("deploy/{name}: {err}"));
                let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                match (file_name, path.extension().and_then(|e| e.to_str())) {
                    ("Dockerfile", _) => {
                        deploy.dockerfiles.insert(name, text);
                    }
                    (_, Some("yaml" | "yml")) => {
                        let docs = YamlLoader::load_from_str(&text)
                            .unwrap_or_else(|err| panic!("deploy/{name}: {err}"));
                        assert!(
                            !docs.is_empty() && docs.iter().all(Yaml::is_hash),
                            "deploy/{name}: every YAML document must be a mapping"
                        );
                        deploy.yaml.insert(name, docs);
                    }
                    (_, Some("toml")) => {
                        let table = text
                            .parse::<toml::Table>()
                            .unwrap_or_else(|err| panic!("deploy/{name}: {err}"));
                        deploy.toml.insert(name, table);
                    }
                    (_, Some("env")) => {
                        let env = parse_env_file(&text, &name);
                        deploy.env_files.insert(name, env);
                    }
                    _ => panic!(
                        "deploy/{name}: a kind of file tests/deploy.rs does not check; \
                         teach it to parse the file and check what it configures"
                    ),
                }
            }
        }
        deploy
    }

    /// The documents of the YAML file `name`.
    fn docs(&self, name: &str) -> &[Yaml] {
        self.yaml
            .get(name)
            .unwrap_or_else(|| panic!("deploy/{name} is missing"))
    }
}

/// A compose `env_file`: `KEY=VALUE` lines, `#` comments.
fn parse_env_file(text: &str, name: &str) -> Env {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("deploy/{name}: `{line}` is not KEY=VALUE"));
            (key.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

// ---- reading YAML ------------------------------------------------------

/// A scalar as text (YAML 1.2 reads `8080` as a number, `"8080"` as text).
fn text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of a sequence; none when absent.
fn items(value: &Yaml) -> &[Yaml] {
    value.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

/// A sequence of scalars as text.
fn strings(value: &Yaml) -> Vec<String> {
    items(value).iter().filter_map(text).collect()
}

/// The entries of a mapping with scalar keys; none when absent.
fn entries(value: &Yaml) -> Vec<(String, &Yaml)> {
    value
        .as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(k, v)| Some((text(k)?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A mapping of scalars as text.
fn string_map(value: &Yaml) -> BTreeMap<String, String> {
    entries(value)
        .into_iter()
        .filter_map(|(k, v)| Some((k, text(v)?)))
        .collect()
}

/// The value following `flag` in a command line.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

// ---- reading aitrail.toml as a container sees it -----------------------

/// `[section] key` of `config` under `env`: an `AITRAIL_<SECTION>__<KEY>`
/// variable wins, read as a TOML value when it is one (as `aitrail` does).
fn effective(config: &toml::Table, env: &Env, section: &str, key: &str) -> Option<toml::Value> {
    let var = format!(
        "AITRAIL_{}__{}",
        section.to_uppercase(),
        key.replace('.', "_").to_uppercase()
    );
    if let Some((_, value)) = env.iter().rev().find(|(k, _)| *k == var) {
        let parsed = format!("v = {value}").parse::<toml::Table>().ok();
        return Some(
            parsed
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone())),
        );
    }
    config.get(section)?.get(key).cloned()
}

/// A string value of [`effective`]; the test fails when it is absent.
fn effective_str(config: &toml::Table, env: &Env, section: &str, key: &str) -> String {
    effective(config, env, section, key)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("[{section}] {key} is not set"))
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> String {
    listen
        .rsplit_once(':')
        .map(|(_, port)| port.to_string())
        .unwrap_or_else(|| panic!("`{listen}` has no port"))
}

/// A listen address every interface of the container answers on: the
/// probes, Prometheus and published ports come from outside it.
fn assert_listens_outside(listen: &str, what: &str) {
    assert!(
        listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:"),
        "{what} `{listen}`: loopback only, unreachable from outside the container"
    );
}

/// Runs `aitrail check-config --config config` in `cwd` with exactly the
/// `AITRAIL_*` variables of `env` (the container's), not the test's own.
fn check_config(config: &Path, env: &Env, cwd: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aitrail"));
    command
        .args(["check-config", "--config"])
        .arg(config)
        .current_dir(cwd);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("AITRAIL_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.output().expect("aitrail runs")
}

/// [`check_config`] that must succeed, with the line it prints.
fn assert_config_ok(config: &Path, env: &Env, what: &str) {
    let cwd = tempfile::tempdir().unwrap();
    let out = check_config(config, env, cwd.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: check-config {}: {}",
        config.display(),
        stderr(&out)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(&format!("{}: ok: [store]", config.display())) && line.ends_with('\n'),
        "{what}: {line}"
    );
}

// ---- every file --------------------------------------------------------

#[test]
fn every_file_in_deploy_parses_and_is_of_a_known_kind() {
    let deploy = Deploy::load();
    assert!(deploy.dockerfiles.contains_key("Dockerfile"));
    assert!(deploy.yaml.contains_key("docker-compose.yml"));
    for file in [
        "kustomization.yaml",
        "configmap.yaml",
        "secret.yaml",
        "ingest-deployment.yaml",
        "serve-deployment.yaml",
        "serve-service.yaml",
        "retention-cronjob.yaml",
    ] {
        assert!(
            deploy.yaml.contains_key(&format!("k8s/{file}")),
            "k8s/{file}"
        );
    }
    assert!(deploy.toml.contains_key("aitrail.toml"));
    assert!(deploy.toml.contains_key("compose/aitrail.toml"));
}

#[test]
fn every_example_config_passes_check_config_as_it_is() {
    let deploy = Deploy::load();
    for name in deploy.toml.keys() {
        assert_config_ok(&deploy_dir().join(name), &Env::new(), name);
    }
}

#[test]
fn check_config_refuses_a_broken_copy_naming_the_key() {
    let deploy = Deploy::load();
    let dir = tempfile::tempdir().unwrap();
    for name in deploy.toml.keys() {
        let text = std::fs::read_to_string(deploy_dir().join(name)).unwrap();
        assert!(
            text.contains("\n[ingest]\n"),
            "{name} has an [ingest] section"
        );
        let broken = dir.path().join("aitrail.toml");
        std::fs::write(
            &broken,
            text.replacen("\n[ingest]\n", "\n[ingest]\nmax_batch_rowz = 1\n", 1),
        )
        .unwrap();
        let out = check_config(&broken, &Env::new(), dir.path());
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("max_batch_rowz"), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

        let env = vec![("AITRAIL_SERVER__K_ANONYMITY".to_string(), "0".to_string())];
        let out = check_config(&deploy_dir().join(name), &env, dir.path());
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("server.k_anonymity"),
            "{}",
            stderr(&out)
        );
    }
}

// ---- the Dockerfile ----------------------------------------------------

/// The instructions of a Dockerfile: comments dropped, continued lines
/// joined, as (KEYWORD, arguments).
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (keyword, rest) = line
                .split_once(char::is_whitespace)
                .unwrap_or((line.as_str(), ""));
            (keyword.to_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// One `FROM` stage: its image (build arguments substituted) and name.
struct Stage {
    image: String,
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut args = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (keyword, rest) in instructions(dockerfile) {
        match (keyword.as_str(), stages.last_mut()) {
            ("ARG", None) => {
                if let Some((name, value)) = rest.split_once('=') {
                    args.insert(format!("${{{name}}}"), value.to_string());
                }
            }
            ("FROM", _) => {
                let words: Vec<&str> = rest
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let mut image = words[0].to_string();
                for (arg, value) in &args {
                    image = image.replace(arg.as_str(), value);
                }
                let name = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    _ => None,
                };
                stages.push(Stage {
                    image,
                    name,
                    instructions: Vec::new(),
                });
            }
            (_, Some(stage)) => stage.instructions.push((keyword, rest)),
            (_, None) => panic!("Dockerfile: {keyword} before the first FROM"),
        }
    }
    stages
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_aitrail_as_a_non_root_user() {
    let deploy = Deploy::load();
    let stages = stages(&deploy.dockerfiles["Dockerfile"]);
    assert!(stages.len() >= 2, "a builder stage and a runtime stage");

    let workspace: toml::Table = std::fs::read_to_string(repo_root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let rust_version = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let builder = &stages[0];
    assert!(
        builder
            .image
            .starts_with(&format!("rust:{rust_version}-bookworm")),
        "the builder is the workspace's Rust ({rust_version}) on bookworm: {}",
        builder.image
    );
    assert!(
        builder.instructions.iter().any(|(k, rest)| k == "RUN"
            && rest.contains("cargo build")
            && rest.contains("--release")
            && rest.contains("--locked")),
        "the builder runs cargo build --release --locked"
    );

    let runtime = stages.last().unwrap();
    assert!(
        !runtime.image.starts_with("rust"),
        "the runtime image carries no toolchain: {}",
        runtime.image
    );
    let earlier: BTreeSet<&str> = stages[..stages.len() - 1]
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    let copies: Vec<&str> = runtime
        .instructions
        .iter()
        .filter(|(k, _)| k == "COPY")
        .filter_map(|(_, rest)| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix("--from="))
        })
        .collect();
    assert!(
        !copies.is_empty(),
        "the runtime copies the binary from a stage"
    );
    for stage in copies {
        assert!(
            earlier.contains(stage),
            "COPY --from={stage}: no such stage"
        );
    }

    let user = runtime
        .instructions
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, rest)| rest.clone())
        .expect("the runtime stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("USER {user}: numeric, so runAsNonRoot can verify it"));
    assert_ne!(uid, 0, "USER {user} is root");

    let entrypoint = runtime
        .instructions
        .iter()
        .rev()
        .find(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, rest)| rest.clone())
        .expect("the runtime stage sets ENTRYPOINT");
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint)
        .unwrap_or_else(|_| panic!("ENTRYPOINT {entrypoint}: the exec (JSON) form"));
    assert_eq!(entrypoint, ["aitrail"]);

    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore"))
        .expect("the build context (the repository root) has a .dockerignore");
    let ignored: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        ignored.contains("target/"),
        "build output stays out of the context"
    );
    let members = workspace["workspace"]["members"].as_array().unwrap();
    for member in members.iter().filter_map(toml::Value::as_str) {
        assert!(
            !ignored.contains(format!("{member}/").as_str()) && !ignored.contains(member),
            ".dockerignore leaves out the workspace member {member}"
        );
    }
}

// ---- docker compose ----------------------------------------------------

/// A compose service's environment: its `env_file`s, then `environment`.
fn compose_env(deploy: &Deploy, service: &Yaml) -> Env {
    let files = match &service["env_file"] {
        Yaml::String(file) => vec![file.clone()],
        other => strings(other),
    };
    let mut env = Env::new();
    for file in files {
        let name = file.trim_start_matches("./");
        let vars = deploy
            .env_files
            .get(name)
            .unwrap_or_else(|| panic!("env_file {file}: not in deploy/"));
        env.extend(vars.iter().cloned());
    }
    match &service["environment"] {
        Yaml::Array(list) => env.extend(list.iter().filter_map(text).map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
            (k.to_string(), v.to_string())
        })),
        map => env.extend(string_map(map)),
    }
    env
}

/// The file of `deploy/` that a compose service mounts at `container_path`.
fn compose_mount(service: &Yaml, container_path: &str) -> PathBuf {
    for volume in strings(&service["volumes"]) {
        let mut parts = volume.split(':');
        let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !source.starts_with('.') {
            continue;
        }
        match container_path.strip_prefix(target) {
            Some("") => return deploy_dir().join(source),
            Some(rest) if rest.starts_with('/') => {
                return deploy_dir().join(source).join(&rest[1..]);
            }
            _ => {}
        }
    }
    panic!("{container_path} is not mounted from deploy/")
}

/// The services `service` waits for, with the condition.
fn depends_on(service: &Yaml) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Yaml::Array(names) => names
            .iter()
            .filter_map(text)
            .map(|n| (n, "service_started".to_string()))
            .collect(),
        map => entries(map)
            .into_iter()
            .map(|(name, spec)| {
                let condition =
                    text(&spec["condition"]).unwrap_or_else(|| "service_started".to_string());
                (name, condition)
            })
            .collect(),
    }
}

/// The words of a service's entrypoint and command (scripts included),
/// to find the names it creates in.
fn command_words(service: &Yaml) -> Vec<String> {
    let mut parts = strings(&service["entrypoint"]);
    parts.extend(strings(&service["command"]));
    parts.extend(text(&service["command"]));
    parts
        .iter()
        .flat_map(|part| part.split_whitespace())
        .map(|word| word.trim_matches(['"', '\'', ';']).to_string())
        .collect()
}

/// The service whose command has a word `matches` accepts.
fn service_with_word<'s>(
    services: &'s BTreeMap<String, &Yaml>,
    matches: impl Fn(&str) -> bool,
) -> Option<&'s String> {
    services
        .iter()
        .find(|(_, s)| command_words(s).iter().any(|w| matches(w)))
        .map(|(name, _)| name)
}

#[test]
fn compose_runs_kafka_in_kraft_an_s3_store_and_aitrail_from_the_dockerfile() {
    let deploy = Deploy::load();
    let compose = &deploy.docs("docker-compose.yml")[0];
    let services: BTreeMap<String, &Yaml> = entries(&compose["services"]).into_iter().collect();

    // Kafka in KRaft mode: one node that is broker and controller, no ZooKeeper.
    let kafka: Vec<&String> = services
        .iter()
        .filter(|(_, s)| {
            compose_env(&deploy, s)
                .iter()
                .any(|(k, _)| k == "KAFKA_PROCESS_ROLES")
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(kafka.len(), 1, "one Kafka node: {kafka:?}");
    let kafka_name = kafka[0];
    let kafka_env: BTreeMap<String, String> = compose_env(&deploy, services[kafka_name])
        .into_iter()
        .collect();
    let roles: BTreeSet<&str> = kafka_env["KAFKA_PROCESS_ROLES"].split(',').collect();
    assert_eq!(
        roles,
        BTreeSet::from(["broker", "controller"]),
        "{kafka_name}: KAFKA_PROCESS_ROLES of a combined KRaft node"
    );
    assert!(kafka_env.contains_key("KAFKA_CONTROLLER_QUORUM_VOTERS"));
    assert!(kafka_env.contains_key("KAFKA_CONTROLLER_LISTENER_NAMES"));
    for (name, service) in &services {
        assert!(
            !name.contains("zookeeper"),
            "{name}: KRaft needs no ZooKeeper"
        );
        assert!(
            compose_env(&deploy, service)
                .iter()
                .all(|(k, _)| !k.contains("ZOOKEEPER")),
            "{name}: KRaft needs no ZooKeeper"
        );
    }

    // The aitrail services: the image of deploy/Dockerfile, a mounted
    // config that check-config accepts under the service's environment.
    let mut aitrail = BTreeMap::new();
    for (name, service) in &services {
        let build = &service["build"];
        if build.is_badvalue() {
            continue;
        }
        let context = deploy_dir().join(text(&build["context"]).expect("build.context"));
        assert_eq!(
            context.canonicalize().unwrap(),
            repo_root(),
            "{name}: the build context is the repository root"
        );
        let dockerfile = context.join(text(&build["dockerfile"]).expect("build.dockerfile"));
        assert_eq!(
            dockerfile.canonicalize().unwrap(),
            deploy_dir().join("Dockerfile").canonicalize().unwrap(),
            "{name}: built from deploy/Dockerfile"
        );
        if let Some(user) = text(&service["user"]) {
            assert!(
                !user.starts_with('0') && user != "root",
                "{name}: user {user}"
            );
        }
        let command = strings(&service["command"]);
        let config = flag(&command, "--config")
            .unwrap_or_else(|| panic!("{name}: {command:?} has no --config"));
        let file = compose_mount(service, config);
        let env = compose_env(&deploy, service);
        assert_config_ok(&file, &env, name);
        let role = match command.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["ingest", "--config", _] => "ingest",
            ["serve", "--config", _] => "serve",
            ["retention", "daemon", "--config", _] => "retention",
            _ => panic!("{name}: unexpected aitrail command {command:?}"),
        };
        let table: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
        aitrail.insert(role, (name.clone(), *service, table, env));
    }
    for role in ["ingest", "serve"] {
        assert!(aitrail.contains_key(role), "compose runs aitrail {role}");
    }
    if let Some((name, _, table, env)) = aitrail.get("retention") {
        assert!(
            effective(table, env, "retention", "schedule").is_some(),
            "{name}: the daemon needs [retention] schedule"
        );
    }

    // The ingest reaches the Kafka node, and its topics exist.
    let (ingest_name, ingest, config, env) = &aitrail["ingest"];
    let bootstrap = effective_str(config, env, "kafka", "bootstrap.servers");
    let host = bootstrap.split(':').next().unwrap();
    assert!(
        host == kafka_name || text(&services[kafka_name]["hostname"]).as_deref() == Some(host),
        "bootstrap.servers {bootstrap} is not the Kafka service {kafka_name}"
    );
    assert!(
        kafka_env["KAFKA_ADVERTISED_LISTENERS"].contains(&format!("//{bootstrap}")),
        "Kafka advertises no listener at {bootstrap}"
    );
    let waits = depends_on(ingest);
    if kafka_env
        .get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")
        .map(String::as_str)
        != Some("true")
    {
        let mut topics: Vec<String> = effective(config, env, "ingest", "topics")
            .and_then(|t| t.as_array().cloned())
            .expect("[ingest] topics")
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        topics.push(effective_str(config, env, "ingest", "dlq_topic"));
        for topic in topics {
            let creator = service_with_word(&services, |w| w == topic)
                .unwrap_or_else(|| panic!("no service creates the topic {topic}"));
            assert_eq!(
                waits.get(creator).map(String::as_str),
                Some("service_completed_successfully"),
                "{ingest_name} waits for {creator}, which creates {topic}"
            );
        }
    }

    // The store: an S3-compatible service of the stack, with the bucket
    // created and the key pair the aitrail services use.
    let root = effective_str(config, env, "store", "root");
    let bucket = root
        .strip_prefix("s3://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("[store] root {root}: an s3:// root"));
    let env_map: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let endpoint = env_map
        .get("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL names the S3-compatible service");
    if endpoint.starts_with("http://") {
        assert_eq!(
            env_map.get("AWS_ALLOW_HTTP"),
            Some(&"true"),
            "plain HTTP to {endpoint}"
        );
    }
    let s3_host = endpoint
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split([':', '/']).next())
        .unwrap();
    let s3 = services
        .get(s3_host)
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL {endpoint}: no service {s3_host}"));
    let s3_env: BTreeSet<String> = compose_env(&deploy, s3)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let value = env_map.get(key).unwrap_or_else(|| panic!("{key} is set"));
        assert!(
            s3_env.contains(*value),
            "{s3_host} does not accept the {key} of aitrail"
        );
    }
    let bucket_maker = service_with_word(&services, |w| w.ends_with(&format!("/{bucket}")))
        .unwrap_or_else(|| panic!("no service creates the bucket {bucket}"));
    for (name, service, _, _) in aitrail.values() {
        assert_eq!(
            depends_on(service).get(bucket_maker).map(String::as_str),
            Some("service_completed_successfully"),
            "{name} waits for the bucket"
        );
    }

    // Listeners reachable from outside their containers, and published.
    let (_, serve, serve_config, serve_env) = &aitrail["serve"];
    for (service, listen) in [
        (ingest, effective_str(config, env, "ingest", "listen")),
        (
            serve,
            effective_str(serve_config, serve_env, "server", "listen"),
        ),
    ] {
        assert_listens_outside(&listen, "listen");
        let port = port_of(&listen);
        assert!(
            strings(&service["ports"])
                .iter()
                .any(|p| p.ends_with(&format!(":{port}"))),
            "port {port} of {listen} is published"
        );
    }
}

// ---- Kubernetes --------------------------------------------------------

/// The Kubernetes objects of `deploy/k8s/`, by (kind, name).
struct Objects<'a> {
    by_key: BTreeMap<(String, String), &'a Yaml>,
}

impl<'a> Objects<'a> {
    fn new(deploy: &'a Deploy) -> Self {
        let mut by_key = BTreeMap::new();
        for (file, docs) in deploy.yaml.iter().filter(|(f, _)| f.starts_with("k8s/")) {
            for doc in docs {
                let kind = text(&doc["kind"]).unwrap_or_else(|| panic!("{file}: no kind"));
                if kind == "Kustomization" {
                    continue;
                }
                assert!(
                    KINDS.contains(&kind.as_str()),
                    "{file}: a {kind}, a kind tests/deploy.rs does not check yet"
                );
                let name = text(&doc["metadata"]["name"])
                    .unwrap_or_else(|| panic!("{file}: a {kind} without a name"));
                assert!(
                    doc["metadata"]["namespace"].is_badvalue(),
                    "{file}: {kind} {name}: namespace-agnostic manifests name no namespace"
                );
                let previous = by_key.insert((kind.clone(), name.clone()), doc);
                assert!(previous.is_none(), "{kind} {name} is defined twice");
            }
        }
        Objects { by_key }
    }

    fn get(&self, kind: &str, name: &str) -> &'a Yaml {
        self.by_key
            .get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("{kind} {name} is referenced but not defined in deploy/k8s"))
    }

    fn of_kind(&self, kind: &str) -> Vec<(&str, &'a Yaml)> {
        self.by_key
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((_, name), doc)| (name.as_str(), *doc))
            .collect()
    }

    /// The entries of a ConfigMap or Secret (`data` and `stringData`).
    fn data(&self, kind: &str, name: &str) -> BTreeMap<String, String> {
        let object = self.get(kind, name);
        let mut data = string_map(&object["data"]);
        data.extend(string_map(&object["stringData"]));
        data
    }
}

/// A container as it runs: its workload, command line, environment, the
/// variables that differ per pod, and where ConfigMap files are mounted.
struct Container<'a> {
    workload: String,
    spec: &'a Yaml,
    args: Vec<String>,
    env: Env,
    per_pod: Vec<String>,
    /// mountPath → the ConfigMap whose keys are files there.
    config_maps: BTreeMap<String, String>,
}

impl Container<'_> {
    /// The ConfigMap entry behind a path inside the container, as (map, key).
    fn config_file(&self, path: &str) -> (String, String) {
        self.config_maps
            .iter()
            .find_map(|(mount, map)| {
                let key = path.strip_prefix(mount.as_str())?.strip_prefix('/')?;
                Some((map.clone(), key.to_string()))
            })
            .unwrap_or_else(|| panic!("{}: {path} is not a mounted ConfigMap file", self.workload))
    }

    /// The container port `port` names (a number or a port name).
    fn port(&self, port: &Yaml) -> String {
        let port = text(port).expect("a port");
        if port.parse::<u16>().is_ok() {
            return port;
        }
        items(&self.spec["ports"])
            .iter()
            .find(|p| text(&p["name"]).as_deref() == Some(port.as_str()))
            .and_then(|p| text(&p["containerPort"]))
            .unwrap_or_else(|| panic!("{}: no port named {port}", self.workload))
    }
}

/// The kinds of object the manifests may hold; another kind fails the
/// test until it learns what to check in it.
const KINDS: [&str; 5] = ["ConfigMap", "Secret", "Deployment", "Service", "CronJob"];

/// The pod template of a Deployment or a CronJob.
fn pod_template<'a>(kind: &str, workload: &'a Yaml) -> &'a Yaml {
    match kind {
        "CronJob" => &workload["spec"]["jobTemplate"]["spec"]["template"],
        _ => &workload["spec"]["template"],
    }
}

/// Every container of every workload, with its environment resolved from
/// the manifests; a reference to a ConfigMap, Secret or key they do not
/// define fails, and so does a container that may run as root.
fn containers<'a>(objects: &Objects<'a>) -> Vec<Container<'a>> {
    let mut found = Vec::new();
    for kind in ["Deployment", "CronJob"] {
        for (name, workload) in objects.of_kind(kind) {
            let workload_name = format!("{kind} {name}");
            let template = pod_template(kind, workload);
            let pod = &template["spec"];
            let volumes: BTreeMap<String, &Yaml> = items(&pod["volumes"])
                .iter()
                .map(|v| (text(&v["name"]).expect("a volume name"), v))
                .collect();
            for spec in items(&pod["initContainers"])
                .iter()
                .chain(items(&pod["containers"]))
            {
                let workload = format!(
                    "{workload_name} container {}",
                    text(&spec["name"]).unwrap_or_default()
                );
                assert_non_root(&pod["securityContext"], &spec["securityContext"], &workload);
                let (env, per_pod) = container_env(spec, objects, &workload);
                let mut config_maps = BTreeMap::new();
                for mount in items(&spec["volumeMounts"]) {
                    let volume = text(&mount["name"]).expect("a mount's volume");
                    let volume = volumes
                        .get(&volume)
                        .unwrap_or_else(|| panic!("{workload}: no volume {volume}"));
                    if let Some(map) = text(&volume["configMap"]["name"]) {
                        assert!(
                            !objects.data("ConfigMap", &map).is_empty(),
                            "{workload}: ConfigMap {map} is empty"
                        );
                        let path = text(&mount["mountPath"]).expect("a mountPath");
                        config_maps.insert(path, map);
                    }
                }
                found.push(Container {
                    workload,
                    spec,
                    args: strings(&spec["args"]),
                    env,
                    per_pod,
                    config_maps,
                });
            }
        }
    }
    found
}

/// A container never runs as root: runAsNonRoot (its own or the pod's), a
/// non-zero runAsUser, no privilege escalation, a read-only root filesystem.
fn assert_non_root(pod: &Yaml, container: &Yaml, workload: &str) {
    let setting = |key: &str| {
        if container[key].is_badvalue() {
            &pod[key]
        } else {
            &container[key]
        }
    };
    assert_eq!(
        setting("runAsNonRoot").as_bool(),
        Some(true),
        "{workload}: runAsNonRoot"
    );
    if let Some(uid) = setting("runAsUser").as_i64() {
        assert_ne!(uid, 0, "{workload}: runAsUser 0 is root");
    }
    assert_eq!(
        container["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{workload}: allowPrivilegeEscalation"
    );
    assert_eq!(
        container["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "{workload}: readOnlyRootFilesystem"
    );
}

/// A container's environment as Kubernetes builds it (envFrom first, then
/// env), and the names of variables that differ from pod to pod.
fn container_env(spec: &Yaml, objects: &Objects<'_>, workload: &str) -> (Env, Vec<String>) {
    let mut env = Env::new();
    let mut per_pod = Vec::new();
    for source in items(&spec["envFrom"]) {
        let data = if let Some(name) = text(&source["configMapRef"]["name"]) {
            objects.data("ConfigMap", &name)
        } else if let Some(name) = text(&source["secretRef"]["name"]) {
            objects.data("Secret", &name)
        } else {
            panic!("{workload}: an envFrom source this test does not know")
        };
        env.extend(data);
    }
    for var in items(&spec["env"]) {
        let name = text(&var["name"]).expect("an env name");
        let from = &var["valueFrom"];
        let value = if let Some(value) = text(&var["value"]) {
            value
        } else if !from["secretKeyRef"].is_badvalue() || !from["configMapKeyRef"].is_badvalue() {
            let (kind, reference) = if from["secretKeyRef"].is_badvalue() {
                ("ConfigMap", &from["configMapKeyRef"])
            } else {
                ("Secret", &from["secretKeyRef"])
            };
            let (object, key) = (
                text(&reference["name"]).expect("a referenced name"),
                text(&reference["key"]).expect("a referenced key"),
            );
            objects
                .data(kind, &object)
                .remove(&key)
                .unwrap_or_else(|| panic!("{workload}: {name}: {kind} {object} has no key {key}"))
        } else {
            per_pod.push(name.clone());
            "<per pod>".to_string()
        };
        env.push((name, value));
    }
    (env, per_pod)
}

#[test]
fn kubernetes_manifests_are_listed_and_their_configs_pass_check_config() {
    let deploy = Deploy::load();
    let objects = Objects::new(&deploy);

    // kustomization.yaml lists every manifest, and names the image.
    let kustomization = &deploy.docs("k8s/kustomization.yaml")[0];
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let files: BTreeSet<String> = deploy
        .yaml
        .keys()
        .filter_map(|f| f.strip_prefix("k8s/"))
        .filter(|f| *f != "kustomization.yaml")
        .map(str::to_string)
        .collect();
    assert_eq!(listed, files, "kustomization.yaml resources");
    let images: BTreeSet<String> = items(&kustomization["images"])
        .iter()
        .filter_map(|i| text(&i["name"]))
        .collect();

    // Every ConfigMap written out, one directory per map, as mounted.
    let dir = tempfile::tempdir().unwrap();
    for (map, _) in objects.of_kind("ConfigMap") {
        std::fs::create_dir(dir.path().join(map)).unwrap();
        for (key, value) in objects.data("ConfigMap", map) {
            std::fs::write(dir.path().join(map).join(key), value).unwrap();
        }
    }
    let host_file = |(map, key): (String, String)| dir.path().join(map).join(key);

    let containers = containers(&objects);
    let mut ingest_configs = Vec::new();
    let mut retention_jobs = Vec::new();
    for container in &containers {
        let image = text(&container.spec["image"]).expect("an image");
        assert!(
            images.contains(&image),
            "{}: image {image} is not set by kustomization.yaml",
            container.workload
        );
        let args: Vec<&str> = container.args.iter().map(String::as_str).collect();
        match args[..] {
            ["ingest" | "serve", "--config", path] | ["retention", "daemon", "--config", path] => {
                let file = host_file(container.config_file(path));
                assert_config_ok(&file, &container.env, &container.workload);
                if args[0] == "ingest" {
                    ingest_configs.push((container, file));
                }
            }
            ["retention", "run", ..] | ["compact", ..] => retention_jobs.push(container),
            _ => panic!(
                "{}: an aitrail command this test does not check: {args:?}",
                container.workload
            ),
        }
    }

    // The retention job purges what the ingest writes, with its policy.
    let [(ingest, ingest_config)] = &ingest_configs[..] else {
        panic!("one ingest container, not {}", ingest_configs.len());
    };
    let config: toml::Table = std::fs::read_to_string(ingest_config)
        .unwrap()
        .parse()
        .unwrap();
    let root = effective_str(&config, &ingest.env, "store", "root");
    let policy = effective_str(&config, &ingest.env, "retention", "policy");
    let policy = ingest_config.parent().unwrap().join(policy);
    assert!(
        retention_jobs
            .iter()
            .any(|c| c.args[..2] == ["retention", "run"]),
        "a job runs `aitrail retention run`"
    );
    let store = tempfile::tempdir().unwrap();
    for job in retention_jobs {
        assert_eq!(
            flag(&job.args, "--store"),
            Some(root.as_str()),
            "{}: --store",
            job.workload
        );
        let path =
            flag(&job.args, "--policy").unwrap_or_else(|| panic!("{}: --policy", job.workload));
        assert_eq!(
            host_file(job.config_file(path)),
            policy,
            "{}: --policy is the ingest's",
            job.workload
        );
        // The same command line, on an empty local store: the flags parse
        // and the policy loads.
        let args: Vec<String> = job
            .args
            .iter()
            .map(|a| {
                if a.as_str() == root {
                    store.path().to_string_lossy().into_owned()
                } else if a.as_str() == path {
                    policy.to_string_lossy().into_owned()
                } else {
                    a.clone()
                }
            })
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_aitrail"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {args:?}: {}",
            job.workload,
            stderr(&out)
        );
    }
}

#[test]
fn kubernetes_workloads_agree_with_their_configuration() {
    let deploy = Deploy::load();
    let objects = Objects::new(&deploy);
    let config_of = |container: &Container<'_>| -> toml::Table {
        let path = flag(&container.args, "--config").expect("--config");
        let (map, key) = container.config_file(path);
        objects.data("ConfigMap", &map)[&key].parse().unwrap()
    };
    let containers = containers(&objects);

    // Deployments select their own pods.
    for (name, deployment) in objects.of_kind("Deployment") {
        let selector = string_map(&deployment["spec"]["selector"]["matchLabels"]);
        let labels = string_map(&deployment["spec"]["template"]["metadata"]["labels"]);
        assert!(
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "Deployment {name}: the selector matches the pod labels"
        );
    }

    // The ingest: several replicas, one consumer group, probes and
    // Prometheus on [ingest] listen.
    let ingest = by_command(&containers, "ingest");
    let deployment = objects.get("Deployment", "aitrail-ingest");
    assert!(
        ingest.workload.starts_with("Deployment aitrail-ingest "),
        "{}",
        ingest.workload
    );
    let replicas = deployment["spec"]["replicas"]
        .as_i64()
        .expect("spec.replicas");
    assert!(replicas > 1, "ingest replicas: {replicas}");
    let per_pod: Vec<&String> = ingest
        .per_pod
        .iter()
        .filter(|v| v.starts_with("AITRAIL_"))
        .collect();
    assert!(
        per_pod.is_empty(),
        "configuration that differs per replica splits the group: {per_pod:?}"
    );
    let config = config_of(ingest);
    let group = effective_str(&config, &ingest.env, "kafka", "group.id");
    assert!(!group.is_empty());
    let listen = effective_str(&config, &ingest.env, "ingest", "listen");
    assert_listens_outside(&listen, "[ingest] listen");
    assert_probes(ingest, &port_of(&listen));
    let annotations = string_map(&deployment["spec"]["template"]["metadata"]["annotations"]);
    assert_eq!(
        annotations.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        annotations.get("prometheus.io/port"),
        Some(&port_of(&listen))
    );
    assert_eq!(
        annotations.get("prometheus.io/path").map(String::as_str),
        Some("/metrics")
    );
    assert!(
        text(&ingest.spec["resources"]["limits"]["memory"]).is_some(),
        "ingest memory limit"
    );

    // The query service, and the Service in front of it.
    let serve = by_command(&containers, "serve");
    let config = config_of(serve);
    let listen = effective_str(&config, &serve.env, "server", "listen");
    assert_listens_outside(&listen, "[server] listen");
    assert_probes(serve, &port_of(&listen));
    let serve_labels = string_map(
        &objects.get("Deployment", "aitrail-serve")["spec"]["template"]["metadata"]["labels"],
    );
    let ingest_labels = string_map(&deployment["spec"]["template"]["metadata"]["labels"]);
    let service = objects.get("Service", "aitrail-serve");
    let selector = string_map(&service["spec"]["selector"]);
    let selects =
        |labels: &BTreeMap<String, String>| selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    assert!(
        selects(&serve_labels) && !selects(&ingest_labels),
        "the Service selects the serve pods only"
    );
    for port in items(&service["spec"]["ports"]) {
        assert_eq!(
            serve.port(&port["targetPort"]),
            port_of(&listen),
            "Service targetPort"
        );
    }

    // The retention job: one run at a time.
    for (name, job) in objects.of_kind("CronJob") {
        assert_eq!(
            text(&job["spec"]["concurrencyPolicy"]).as_deref(),
            Some("Forbid"),
            "CronJob {name}"
        );
    }

    // Secrets hold placeholders only, clearly marked.
    for (name, _) in objects.of_kind("Secret") {
        for (key, value) in objects.data("Secret", name) {
            assert!(
                value.starts_with("REPLACE_ME"),
                "Secret {name} {key}: a placeholder marked REPLACE_ME, not a credential"
            );
        }
    }
}

/// The one container that runs `aitrail <command>`.
fn by_command<'c, 'a>(containers: &'c [Container<'a>], command: &str) -> &'c Container<'a> {
    let found: Vec<&Container<'a>> = containers
        .iter()
        .filter(|c| c.args.first().map(String::as_str) == Some(command))
        .collect();
    assert_eq!(found.len(), 1, "one container runs aitrail {command}");
    found[0]
}

/// Readiness on /readyz and liveness on /healthz, at `port`.
fn assert_probes(container: &Container<'_>, port: &str) {
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container.spec[probe]["httpGet"];
        assert_eq!(
            text(&get["path"]).as_deref(),
            Some(path),
            "{}: {probe}",
            container.workload
        );
        assert_eq!(
            container.port(&get["port"]),
            port,
            "{}: {probe} port",
            container.workload
        );
    }
}
