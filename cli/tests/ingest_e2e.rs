//! `aitrail ingest` end to end: the real binary against tansu, a
//! Kafka-protocol broker that each test starts on a free loopback port with
//! memory storage and kills when it ends. Events come from `aitrail gen`,
//! ≈ 1 % of them made invalid in every way a producer can; they go in
//! through `aitrail produce` (or a Python confluent-kafka producer); the
//! store is read with `aitrail sql` and the dead-letter topic with rdkafka.
//!
//! - `AITRAIL_E2E_EVENTS`: events of the exactly-once and kill -9 runs
//!   (default 1,000,000, the figure); the group takeover runs a
//!   fifth of it.
//! - `AITRAIL_E2E_SEED`: replays the random kill moments of a failed run
//!   (each run prints its seed).
//! - `AITRAIL_E2E_KEEP=1`: keeps each test's directory (logs, store, input)
//!   and prints its path.
//! - `TANSU`: the broker binary; else `tansu` on `PATH`, else
//!   `~/.cargo/bin/tansu` (`scripts/test` installs it).
//!
//! Every wait polls a condition against a deadline; no test sleeps a fixed
//! time to let something happen. The tests run one at a time: each uses
//! both cores.
//!
//! Two limits of tansu 0.6 shape the tests. It reports a partition's high
//! watermark as its last record batch's base offset + 1, so nothing here
//! waits on watermarks. And a fetch at an offset inside a record batch
//! returns the batches after it, skipping the rest of that batch (Kafka
//! returns the batch that holds the offset): a consumer that resumes
//! mid-batch, as the ingest does after a crash or a rebalance, would miss
//! messages there. The tests that resume therefore produce one message per
//! record batch (`batch.num.messages=1`), so that every offset starts one.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::e2e::*;

#[test]
fn valid_events_land_once_and_every_invalid_one_in_the_dead_letter_topic() {
    let _serial = serial();
    let site = Site::new();
    let events = events();
    let input = make_input(site.dir.path(), events, true);
    assert_eq!(input.rejects.len(), REASONS.len(), "every reason is tried");
    let produced = site.produce(&input, false);
    eprintln!("produced {events} events in {produced:.1?}");

    let started = Instant::now();
    let mut ingest = site.ingest("ingest", Options::default());
    site.wait_stored(input.valid, &mut [&mut ingest]);
    let elapsed = started.elapsed();
    eprintln!(
        "ingested {events} events in {elapsed:.1?} ({:.0} events/s)",
        events as f64 / elapsed.as_secs_f64()
    );
    let status = ingest.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_exactly_once(&site, &input);

    let letters = parse_dead_letters(&site.dead_letters(input.invalid()));
    assert_eq!(letters.len(), input.invalid(), "each reject once, no more");
    assert_eq!(rejects_by_reason(&letters), expected_rejects(&input));
    for letter in &letters {
        match letter["reason"].as_str().unwrap() {
            "content_field" => assert_eq!(letter["event"]["prompt"], "[REDACTED]"),
            "secret_detected" => {
                assert_eq!(letter["event"]["attributes"]["note"], "[REDACTED]");
            }
            "malformed_json" | "too_large" => assert!(letter["event"].is_null()),
            _ => assert!(letter["event"].is_object(), "{letter}"),
        }
    }
}

#[test]
fn kill_9_at_five_random_moments_loses_and_duplicates_nothing() {
    let _serial = serial();
    let mut random = Random::from_env_or_clock("kill_9");
    let site = Site::new();
    let input = make_input(site.dir.path(), events(), true);
    site.produce(&input, true);

    // Small files merged three at a time: the kills also land while
    // partitions are being compacted.
    let options = Options {
        max_rows: 20_000,
        compact_fan_in: 3,
        ..Options::default()
    };
    let mut ingest = site.ingest("ingest", options);
    let mut merged = 0;
    for kill in 1..=5 {
        // Some way into a batch, then a random moment later: reading,
        // validating, writing Parquet, committing the tables or the group.
        let threshold = random.below(1..(options.max_rows as u64 * 2));
        let pause = Duration::from_millis(random.below(0..1_500));
        let log = ingest.log.clone();
        eventually(
            &format!("{threshold} messages consumed before kill {kill}"),
            deadline_for(input.valid),
            Duration::from_millis(20),
            || {
                ingest.assert_running();
                (ingest.consumed() >= threshold).then_some(())
            },
            || tail(&log),
        );
        std::thread::sleep(pause);
        merged += ingest
            .metric("aitrail_ingest_merged_files_total")
            .unwrap_or(0);
        ingest.kill();
        eprintln!(
            "kill -9 {kill}: {threshold} consumed + {pause:?}; the store holds {:?}",
            site.try_stored()
        );
        ingest = site.ingest("ingest", options);
    }
    site.wait_stored(input.valid, &mut [&mut ingest]);
    merged += ingest
        .metric("aitrail_ingest_merged_files_total")
        .unwrap_or(0);
    let status = ingest.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert!(merged > 0, "continuous compaction merged files meanwhile");
    assert_exactly_once(&site, &input);
    site.assert_verifies();

    // The dead-letter topic is at least once: every reject is there.
    let letters = parse_dead_letters(&site.dead_letters(input.invalid()));
    assert_eq!(rejects_by_reason(&letters), expected_rejects(&input));
}

/// The instances use the cooperative-sticky assignor and the one killed is
/// the one that joined second: tansu 0.6 hands a dead member's partitions
/// to the survivor only then. With the eager assignors (range, roundrobin)
/// the survivor gets back its own partitions alone, and when the group's
/// leader dies it gets nothing more; the dead member's partitions are never
/// consumed again (seen with confluent-kafka consumers alone, no aitrail).
#[test]
fn a_group_member_killed_hands_its_partitions_to_the_other() {
    let _serial = serial();
    let mut random = Random::from_env_or_clock("takeover");
    let site = Site::new();
    let input = make_input(site.dir.path(), events() / 5, true);
    site.produce(&input, true);

    let options = Options {
        max_rows: 10_000,
        assignor: "cooperative-sticky",
        ..Options::default()
    };
    let mut leader = site.ingest("leader", options);
    let leader_log = leader.log.clone();
    eventually(
        "the first instance consuming",
        deadline_for(input.valid),
        Duration::from_millis(50),
        || {
            leader.assert_running();
            (leader.consumed() > 0).then_some(())
        },
        || tail(&leader_log),
    );
    let mut joiner = site.ingest("joiner", options);
    let joiner_log = joiner.log.clone();
    let theirs = eventually(
        "both instances consuming their share",
        deadline_for(input.valid),
        Duration::from_millis(50),
        || {
            leader.assert_running();
            joiner.assert_running();
            let theirs = joiner.assigned(0);
            let shared = !theirs.is_empty()
                && theirs.len() < EVENT_PARTITIONS as usize
                && joiner.consumed() > 0;
            shared.then_some(theirs)
        },
        || format!("{}\n{}", tail(&leader_log), tail(&joiner_log)),
    );
    std::thread::sleep(Duration::from_millis(random.below(0..2_000)));
    let seen = leader.log_lines();
    joiner.kill();
    eprintln!(
        "kill -9 of the instance owning partitions {theirs:?}; the store holds {:?}",
        site.try_stored()
    );

    site.wait_stored(input.valid, &mut [&mut leader]);
    let taken_over = leader.assigned(seen);
    assert!(
        theirs.is_subset(&taken_over),
        "the survivor took over partitions {theirs:?}, got {taken_over:?}"
    );
    let status = leader.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_exactly_once(&site, &input);
    site.assert_verifies();
    let letters = parse_dead_letters(&site.dead_letters(input.invalid()));
    assert_eq!(rejects_by_reason(&letters), expected_rejects(&input));
}

#[test]
fn events_from_a_python_confluent_kafka_producer_land() {
    let _serial = serial();
    let site = Site::new();
    let count = 5_000;
    let input = make_input(site.dir.path(), count, false);
    let mut ingest = site.ingest("ingest", Options::default());

    let out = Command::new("python3")
        .args([
            "-c",
            PYTHON_PRODUCER,
            &site.broker.address,
            EVENTS,
            input.path.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the Python producer failed (scripts/test installs confluent-kafka): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        count.to_string()
    );

    site.wait_stored(count, &mut [&mut ingest]);
    let status = ingest.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_exactly_once(&site, &input);
}

#[test]
fn sigterm_commits_the_pending_batch_and_exits_0() {
    let _serial = serial();
    let site = Site::new();
    let count = 3_000;
    let input = make_input(site.dir.path(), count, false);
    site.produce(&input, false);
    let mut ingest = site.ingest(
        "ingest",
        Options {
            max_age_ms: 600_000,
            ..Options::default()
        },
    );
    let log = ingest.log.clone();
    eventually(
        &format!("{count} messages consumed"),
        Duration::from_secs(120),
        Duration::from_millis(100),
        || {
            ingest.assert_running();
            (ingest.consumed() == count as u64).then_some(())
        },
        || tail(&log),
    );
    assert_eq!(
        site.stored().rows,
        0,
        "nothing is committed before the batch is old or full"
    );
    let status = ingest.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_exactly_once(&site, &input);
}
