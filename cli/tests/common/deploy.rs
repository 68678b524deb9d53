//! The harness of the `deploy/` tests (`deploy.rs`): the files read as
//! YAML, TOML, env files and Dockerfiles, and what a container, a compose
//! service or a Kubernetes workload gets from them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

use super::stderr;

/// Environment variables, in the order a container gets them (later wins).
pub type Env = Vec<(String, String)>;

pub fn deploy_dir() -> PathBuf {
    super::manifest_dir().join("../deploy")
}

pub fn repo_root() -> PathBuf {
    super::manifest_dir()
        .join("..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Every file under `deploy/`, parsed by kind, by path relative to `deploy/`.
#[derive(Default)]
pub struct Deploy {
    pub yaml: BTreeMap<String, Vec<Yaml>>,
    pub toml: BTreeMap<String, toml::Table>,
    pub env_files: BTreeMap<String, Env>,
    pub dockerfiles: BTreeMap<String, String>,
}

impl Deploy {
    /// Walks `deploy/` and parses every file; panics naming a file that
    /// does not parse or whose kind is unknown here.
    pub fn load() -> Self {
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
    pub fn docs(&self, name: &str) -> &[Yaml] {
        self.yaml
            .get(name)
            .unwrap_or_else(|| panic!("deploy/{name} is missing"))
    }
}

/// A compose `env_file`: `KEY=VALUE` lines, `#` comments.
pub fn parse_env_file(text: &str, name: &str) -> Env {
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
pub fn text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of a sequence; none when absent.
pub fn items(value: &Yaml) -> &[Yaml] {
    value.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

/// A sequence of scalars as text.
pub fn strings(value: &Yaml) -> Vec<String> {
    items(value).iter().filter_map(text).collect()
}

/// The entries of a mapping with scalar keys; none when absent.
pub fn entries(value: &Yaml) -> Vec<(String, &Yaml)> {
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
pub fn string_map(value: &Yaml) -> BTreeMap<String, String> {
    entries(value)
        .into_iter()
        .filter_map(|(k, v)| Some((k, text(v)?)))
        .collect()
}

/// The value following `flag` in a command line.
pub fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

// ---- reading aitrail.toml as a container sees it -----------------------

/// `[section] key` of `config` under `env`: an `AITRAIL_<SECTION>__<KEY>`
/// variable wins, read as a TOML value when it is one (as `aitrail` does).
pub fn effective(config: &toml::Table, env: &Env, section: &str, key: &str) -> Option<toml::Value> {
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
pub fn effective_str(config: &toml::Table, env: &Env, section: &str, key: &str) -> String {
    effective(config, env, section, key)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("[{section}] {key} is not set"))
}

/// The port of a `host:port` listen address.
pub fn port_of(listen: &str) -> String {
    listen
        .rsplit_once(':')
        .map(|(_, port)| port.to_string())
        .unwrap_or_else(|| panic!("`{listen}` has no port"))
}

/// A listen address every interface of the container answers on: the
/// probes, Prometheus and published ports come from outside it.
pub fn assert_listens_outside(listen: &str, what: &str) {
    assert!(
        listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:"),
        "{what} `{listen}`: loopback only, unreachable from outside the container"
    );
}

/// Runs `aitrail check-config --config config` in `cwd` with exactly the
/// `AITRAIL_*` variables of `env` (the container's), not the test's own.
pub fn check_config(config: &Path, env: &Env, cwd: &Path) -> Output {
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
pub fn assert_config_ok(config: &Path, env: &Env, what: &str) {
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

/// The instructions of a Dockerfile: comments dropped, continued lines
/// joined, as (KEYWORD, arguments).
pub fn instructions(dockerfile: &str) -> Vec<(String, String)> {
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
pub struct Stage {
    pub image: String,
    pub name: Option<String>,
    pub instructions: Vec<(String, String)>,
}

pub fn stages(dockerfile: &str) -> Vec<Stage> {
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

/// A compose service's environment: its `env_file`s, then `environment`.
pub fn compose_env(deploy: &Deploy, service: &Yaml) -> Env {
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
pub fn compose_mount(service: &Yaml, container_path: &str) -> PathBuf {
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
pub fn depends_on(service: &Yaml) -> BTreeMap<String, String> {
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
pub fn command_words(service: &Yaml) -> Vec<String> {
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
pub fn service_with_word<'s>(
    services: &'s BTreeMap<String, &Yaml>,
    matches: impl Fn(&str) -> bool,
) -> Option<&'s String> {
    services
        .iter()
        .find(|(_, s)| command_words(s).iter().any(|w| matches(w)))
        .map(|(name, _)| name)
}

/// The Kubernetes objects of `deploy/k8s/`, by (kind, name).
pub struct Objects<'a> {
    pub by_key: BTreeMap<(String, String), &'a Yaml>,
}

impl<'a> Objects<'a> {
    pub fn new(deploy: &'a Deploy) -> Self {
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

    pub fn get(&self, kind: &str, name: &str) -> &'a Yaml {
        self.by_key
            .get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("{kind} {name} is referenced but not defined in deploy/k8s"))
    }

    pub fn of_kind(&self, kind: &str) -> Vec<(&str, &'a Yaml)> {
        self.by_key
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((_, name), doc)| (name.as_str(), *doc))
            .collect()
    }

    /// The entries of a ConfigMap or Secret (`data` and `stringData`).
    pub fn data(&self, kind: &str, name: &str) -> BTreeMap<String, String> {
        let object = self.get(kind, name);
        let mut data = string_map(&object["data"]);
        data.extend(string_map(&object["stringData"]));
        data
    }
}

/// A container as it runs: its workload, command line, environment, the
/// variables that differ per pod, and where ConfigMap files are mounted.
pub struct Container<'a> {
    pub workload: String,
    pub spec: &'a Yaml,
    pub args: Vec<String>,
    pub env: Env,
    pub per_pod: Vec<String>,
    /// mountPath → the ConfigMap whose keys are files there.
    pub config_maps: BTreeMap<String, String>,
    /// mountPath → the Secret whose keys are files there.
    pub secrets: BTreeMap<String, String>,
}

impl Container<'_> {
    /// The ConfigMap entry behind a path inside the container, as (map, key).
    pub fn config_file(&self, path: &str) -> (String, String) {
        self.config_maps
            .iter()
            .find_map(|(mount, map)| {
                let key = path.strip_prefix(mount.as_str())?.strip_prefix('/')?;
                Some((map.clone(), key.to_string()))
            })
            .unwrap_or_else(|| panic!("{}: {path} is not a mounted ConfigMap file", self.workload))
    }

    /// The Secret entry behind a path inside the container, as (secret,
    /// key), if a Secret is mounted there.
    pub fn secret_file(&self, path: &str) -> Option<(String, String)> {
        self.secrets.iter().find_map(|(mount, secret)| {
            let key = path.strip_prefix(mount.as_str())?.strip_prefix('/')?;
            Some((secret.clone(), key.to_string()))
        })
    }

    /// The container port `port` names (a number or a port name).
    pub fn port(&self, port: &Yaml) -> String {
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
pub const KINDS: [&str; 5] = ["ConfigMap", "Secret", "Deployment", "Service", "CronJob"];

/// The pod template of a Deployment or a CronJob.
pub fn pod_template<'a>(kind: &str, workload: &'a Yaml) -> &'a Yaml {
    match kind {
        "CronJob" => &workload["spec"]["jobTemplate"]["spec"]["template"],
        _ => &workload["spec"]["template"],
    }
}

/// Every container of every workload, with its environment resolved from
/// the manifests; a reference to a ConfigMap, Secret or key they do not
/// define fails, and so does a container that may run as root.
pub fn containers<'a>(objects: &Objects<'a>) -> Vec<Container<'a>> {
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
                let mut secrets = BTreeMap::new();
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
                    if let Some(secret) = text(&volume["secret"]["secretName"]) {
                        let path = text(&mount["mountPath"]).expect("a mountPath");
                        secrets.insert(path, secret);
                    }
                }
                found.push(Container {
                    workload,
                    spec,
                    args: strings(&spec["args"]),
                    env,
                    per_pod,
                    config_maps,
                    secrets,
                });
            }
        }
    }
    found
}

/// A container never runs as root: runAsNonRoot (its own or the pod's), a
/// non-zero runAsUser, no privilege escalation, a read-only root filesystem.
pub fn assert_non_root(pod: &Yaml, container: &Yaml, workload: &str) {
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
pub fn container_env(spec: &Yaml, objects: &Objects<'_>, workload: &str) -> (Env, Vec<String>) {
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

/// The one container that runs `aitrail <command>`.
pub fn by_command<'c, 'a>(containers: &'c [Container<'a>], command: &str) -> &'c Container<'a> {
    let found: Vec<&Container<'a>> = containers
        .iter()
        .filter(|c| c.args.first().map(String::as_str) == Some(command))
        .collect();
    assert_eq!(found.len(), 1, "one container runs aitrail {command}");
    found[0]
}

/// Readiness on /readyz and liveness on /healthz, at `port`.
pub fn assert_probes(container: &Container<'_>, port: &str) {
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
