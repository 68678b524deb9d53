//! `aitrail load`: backfills JSONL into the store.
//!
//! One thread reads and validates while the store commits the previous batch
//! on another, so parsing and Parquet encoding overlap; at most one batch
//! waits between them, which bounds memory whatever the input size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aitrail_schemas::ValidatorConfig;
use aitrail_schemas::clock::received_now;
use aitrail_store::rows::Position;
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::{Duplicate, StoreWriter};
use anyhow::Context;
use chrono::TimeDelta;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{ExitCode, UsageError};
use crate::input;
use crate::rejects::RejectLines;
use crate::store_args::StoreArgs;

/// Flags of `aitrail load`.
#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Where rejected lines go, as JSON lines; stdout when absent.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Rows per commit.
    #[arg(long, default_value_t = 500_000)]
    batch_rows: usize,
    /// JSONL file (`.gz`, `.zst` by extension); stdin when absent or `-`.
    file: Option<PathBuf>,
}

/// The duplicates a commit dropped, as rejected lines of the input.
fn record_duplicates(rejects: &mut RejectLines, duplicates: Vec<Duplicate>) -> io::Result<()> {
    for duplicate in duplicates {
        rejects.record(duplicate.rejection(), duplicate.position.offset as u64)?;
    }
    Ok(())
}

/// Loads the file, prints a summary, and exits 1 if anything was rejected.
pub fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let policy = args.store.policy()?;
    let root = args.store.root()?;
    crate::signing::install(None, "load")?;
    let mut source = input::open(args.file.as_ref())?;
    let out: Box<dyn Write + Send> = match &args.rejects {
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|err| {
            UsageError(format!("cannot create {}: {err}", path.display()))
        })?)),
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let rejects = Arc::new(Mutex::new(RejectLines::new(out, source.name.clone())));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut writer = runtime
        .block_on(StoreWriter::open(&root, TimeDelta::hours(24)))
        .with_context(|| format!("cannot open the store at {root}"))?;
    let (batches, mut pending) = tokio::sync::mpsc::channel(1);
    let committer_rejects = Arc::clone(&rejects);
    let committer = runtime.spawn(async move {
        let mut committed = 0usize;
        while let Some(batch) = pending.recv().await {
            let outcome = writer.commit(batch, &[]).await?;
            committed += outcome.rows;
            record_duplicates(&mut lock(&committer_rejects), outcome.duplicates)?;
        }
        anyhow::Ok(committed)
    });

    let limits = BatchLimits {
        max_rows: args.batch_rows.max(1),
        ..BatchLimits::default()
    };
    let mut sink = EventSink::new(ValidatorConfig::default(), policy, limits);
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {human_pos} lines read ({per_sec})")
            .expect("the progress template is fixed and valid"),
    );
    let started = Instant::now();
    let mut number = 0u64;
    while let Some(line) = source.next_line()? {
        number += 1;
        if number.is_multiple_of(65_536) {
            progress.set_position(number);
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let position = Position {
            partition: -1,
            offset: number as i64,
        };
        if let Err(rejection) = sink.accept(line, position, received_now()) {
            lock(&rejects).record(rejection, number)?;
        }
        if sink.is_full() && batches.blocking_send(sink.take_batch()).is_err() {
            break;
        }
    }
    if sink.pending_rows() > 0 {
        // A closed channel means the committer failed; its error is reported below.
        let _ = batches.blocking_send(sink.take_batch());
    }
    drop(batches);
    let loaded = runtime.block_on(committer)??;
    progress.finish_and_clear();

    let mut rejects = lock(&rejects);
    rejects.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    let rejected = rejects.total();
    eprintln!(
        "loaded {loaded} events, rejected {rejected}{} in {elapsed:.1} s ({:.0} events/s)",
        rejects.by_reason(),
        number as f64 / elapsed.max(1e-9),
    );
    Ok(if rejected == 0 {
        ExitCode::Ok
    } else {
        ExitCode::Rejected
    })
}

fn lock(rejects: &Mutex<RejectLines>) -> std::sync::MutexGuard<'_, RejectLines> {
    rejects
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
