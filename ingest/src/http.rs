//! What the ingest's operations endpoints (`/metrics`, `/healthz`,
//! `/readyz`, served by [`aitrail_ops`]) read: its metrics, and whether
//! the broker and the store are reachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aitrail_ops::Observed;

use crate::metrics::Metrics;

/// Whether the ingest can do its work: readiness is both of these.
#[derive(Debug, Default)]
pub struct Health {
    /// At least one broker is connected.
    pub broker: AtomicBool,
    /// The last store operation succeeded.
    pub store: AtomicBool,
}

impl Health {
    /// Ready to make progress: the broker and the store are both reachable.
    pub fn ready(&self) -> bool {
        self.broker.load(Ordering::Relaxed) && self.store.load(Ordering::Relaxed)
    }

    /// Records whether the broker is reachable, logging the change.
    pub fn set_broker(&self, up: bool) {
        if self.broker.swap(up, Ordering::Relaxed) != up {
            tracing::info!(broker_reachable = up, "broker reachability changed");
        }
    }

    /// Records whether the store is reachable, logging the change.
    pub fn set_store(&self, up: bool) {
        if self.store.swap(up, Ordering::Relaxed) != up {
            tracing::info!(store_reachable = up, "store reachability changed");
        }
    }
}

/// What the operations endpoints read.
pub struct Operations {
    /// Served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Served at `/readyz`.
    pub health: Arc<Health>,
}

impl Observed for Operations {
    fn readiness(&self) -> Result<(), String> {
        if self.health.ready() {
            Ok(())
        } else if !self.health.broker.load(Ordering::Relaxed) {
            Err("broker unreachable".to_string())
        } else {
            Err("store unreachable".to_string())
        }
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}
