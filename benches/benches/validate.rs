//! Parse + validate throughput on one core (issue 2: ≥ 1M typical events/s;
//! issue 27: ≥ 1M/s of valid events as foreign producers write them, keys in
//! an order of each event's own, the worst case, or of each producer's own),
//! and generator throughput.

use aitrail_benches::{KeyOrder, foreign_events, typical_events};
use aitrail_schemas::Validator;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn validate(c: &mut Criterion) {
    let validator = Validator::default();
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let mut group = c.benchmark_group("validate");
    for (name, (jsonl, count)) in [
        ("typical_events", typical_events(200, 5)),
        ("foreign_events", foreign_events(200, 5, KeyOrder::PerEvent)),
        (
            "foreign_events_producer_order",
            foreign_events(200, 5, KeyOrder::PerProducer),
        ),
    ] {
        let lines: Vec<&[u8]> = jsonl
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        group.throughput(Throughput::Elements(count));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut valid = 0u64;
                for line in &lines {
                    valid += u64::from(validator.validate(line, now).is_ok());
                }
                assert_eq!(valid, count);
            })
        });
    }
    group.finish();
}

fn generate(c: &mut Criterion) {
    let (_, count) = typical_events(200, 5);
    let mut group = c.benchmark_group("gen");
    group.throughput(Throughput::Elements(count));
    group.sample_size(10);
    group.bench_function("typical_events", |b| b.iter(|| typical_events(200, 5)));
    group.finish();
}

criterion_group!(benches, validate, generate);
criterion_main!(benches);
