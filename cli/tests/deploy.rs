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
use std::process::Command;

use yaml_rust2::Yaml;

use common::deploy::*;
use common::stderr;

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
        "collect-deployment.yaml",
        "collect-service.yaml",
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
    let mut keygen = Vec::new();
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
        if strings(&service["entrypoint"]).first().map(String::as_str) == Some("/bin/sh") {
            keygen.push((name.clone(), *service, command.join(" ")));
            continue;
        }
        let config = flag(&command, "--config")
            .unwrap_or_else(|| panic!("{name}: {command:?} has no --config"));
        let file = compose_mount(service, config);
        let env = compose_env(&deploy, service);
        assert_config_ok(&file, &env, name);
        let role = match command.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["ingest", "--config", _] => "ingest",
            ["serve", "--config", _] => "serve",
            ["collect", "--config", _] => "collect",
            ["retention", "daemon", "--config", _] => "retention",
            _ => panic!("{name}: unexpected aitrail command {command:?}"),
        };
        let table: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
        aitrail.insert(role, (name.clone(), *service, table, env));
    }
    for role in ["ingest", "serve", "collect"] {
        assert!(aitrail.contains_key(role), "compose runs aitrail {role}");
    }

    // One service makes the signing key into a volume, once; every writer
    // mounts it read-only, waits for it, and must sign (DESIGN §11).
    let [(keygen_name, keygen, script)] = &keygen[..] else {
        panic!("one keygen service: {keygen:?}");
    };
    let out_dir = script
        .split("aitrail keygen --out ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{keygen_name}: {script} runs no `aitrail keygen --out DIR`"));
    let volume = strings(&keygen["volumes"])
        .into_iter()
        .find_map(|mount| {
            mount
                .strip_suffix(&format!(":{out_dir}"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("{keygen_name}: nothing mounted at {out_dir}"));
    assert!(
        entries(&compose["volumes"])
            .iter()
            .any(|(name, _)| *name == volume),
        "{volume} is a named volume"
    );
    for role in ["ingest", "serve", "retention"] {
        let Some((name, service, table, env)) = aitrail.get(role) else {
            continue;
        };
        let key_file = env
            .iter()
            .find(|(k, _)| k == "AITRAIL_SIGNING_KEY_FILE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name}: no AITRAIL_SIGNING_KEY_FILE"));
        assert_eq!(key_file, format!("{out_dir}/signing.key"), "{name}");
        assert!(
            strings(&service["volumes"]).contains(&format!("{volume}:{out_dir}:ro")),
            "{name}: mounts {volume} read-only at {out_dir}"
        );
        assert_eq!(
            depends_on(service).get(keygen_name).map(String::as_str),
            Some("service_completed_successfully"),
            "{name}: waits for {keygen_name}"
        );
        assert_eq!(
            effective(table, env, "integrity", "required"),
            Some(toml::Value::Boolean(true)),
            "{name}: [integrity] required"
        );
    }

    let (name, collect, table, env) = &aitrail["collect"];
    for key in ["listen", "grpc_listen"] {
        let listen = effective_str(table, env, "collect", key);
        assert_listens_outside(&listen, key);
        let port = port_of(&listen);
        assert!(
            strings(&collect["ports"])
                .iter()
                .any(|p| p.ends_with(&format!(":{port}"))),
            "{name}: port {port} of [collect] {key} is published"
        );
    }
    assert!(
        env.iter()
            .any(|(k, v)| k == "AITRAIL_IDENTITY_KEY" && !v.is_empty()),
        "{name}: AITRAIL_IDENTITY_KEY is set"
    );
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
    // The collector never opens the store; it waits for its topic instead.
    for (role, (name, service, _, _)) in &aitrail {
        let (waits_for, what) = if *role == "collect" {
            let topic = effective_str(&aitrail[role].2, &aitrail[role].3, "collect", "topic");
            let creator = service_with_word(&services, |w| w == topic)
                .unwrap_or_else(|| panic!("no service creates the topic {topic}"));
            (creator, "its topic")
        } else {
            (bucket_maker, "the bucket")
        };
        assert_eq!(
            depends_on(service).get(waits_for).map(String::as_str),
            Some("service_completed_successfully"),
            "{name} waits for {what}"
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
            ["ingest" | "serve" | "collect", "--config", path]
            | ["retention", "daemon", "--config", path] => {
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

    // The collector: probes and Prometheus on [collect] listen, a Service
    // in front of both OTLP ports, and the pseudonym key from a Secret.
    let collect = by_command(&containers, "collect");
    let config = config_of(collect);
    let http = port_of(&effective_str(&config, &collect.env, "collect", "listen"));
    let grpc = port_of(&effective_str(
        &config,
        &collect.env,
        "collect",
        "grpc_listen",
    ));
    assert_probes(collect, &http);
    let collect_deployment = objects.get("Deployment", "aitrail-collect");
    let annotations =
        string_map(&collect_deployment["spec"]["template"]["metadata"]["annotations"]);
    assert_eq!(annotations.get("prometheus.io/port"), Some(&http));
    let collect_labels = string_map(&collect_deployment["spec"]["template"]["metadata"]["labels"]);
    let service = objects.get("Service", "aitrail-collect");
    let selector = string_map(&service["spec"]["selector"]);
    assert!(
        selector
            .iter()
            .all(|(k, v)| collect_labels.get(k) == Some(v))
            && selector.iter().any(|(k, v)| serve_labels.get(k) != Some(v)),
        "the collect Service selects the collect pods only"
    );
    let targets: BTreeSet<String> = items(&service["spec"]["ports"])
        .iter()
        .map(|port| collect.port(&port["targetPort"]))
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from([http, grpc]),
        "collect Service targetPorts"
    );
    assert!(
        collect.env.iter().any(|(k, _)| k == "AITRAIL_IDENTITY_KEY"),
        "the collector gets AITRAIL_IDENTITY_KEY"
    );

    // Every container that writes to the store signs its commits with the
    // key of a mounted Secret (DESIGN §11), and the services that read
    // [integrity] refuse to start without it.
    for command in ["ingest", "serve", "retention", "compact"] {
        for container in containers.iter().filter(|c| c.args[0] == command) {
            let key_file = container
                .env
                .iter()
                .find(|(name, _)| name == "AITRAIL_SIGNING_KEY_FILE")
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| panic!("{}: no AITRAIL_SIGNING_KEY_FILE", container.workload));
            let (secret, key) = container.secret_file(&key_file).unwrap_or_else(|| {
                panic!("{}: {key_file} is not a mounted Secret", container.workload)
            });
            assert!(
                objects.data("Secret", &secret).contains_key(&key),
                "{}: Secret {secret} has no {key}",
                container.workload
            );
            if flag(&container.args, "--config").is_some() {
                let required = effective(
                    &config_of(container),
                    &container.env,
                    "integrity",
                    "required",
                );
                assert_eq!(
                    required,
                    Some(toml::Value::Boolean(true)),
                    "{}: [integrity] required",
                    container.workload
                );
            }
        }
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
