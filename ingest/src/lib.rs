//! The Kafka ingest service: a consumer group that validates events, sends
//! rejects to the dead-letter topic and commits batches exactly once through
//! `aitrail_store::sink::EventSink`, recording offsets as Delta application
//! transactions. Its issue has not been worked yet; `aitrail load` is the
//! file-based way into the store meanwhile.
