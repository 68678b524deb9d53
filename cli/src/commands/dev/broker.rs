//! The embedded Kafka-protocol broker of `aitrail dev`: librdkafka's mock
//! cluster, listening on a loopback port that outside clients (kcat, a
//! collector under development) can produce to as well.

use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// Partitions of the events topic: more than one, so that the ingest's
/// per-partition offsets are exercised as in production.
const EVENT_PARTITIONS: i32 = 3;

/// A running broker with the events topic and its dead-letter topic. It
/// stops when dropped; messages live in memory only.
pub struct Broker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Broker {
    /// Starts a one-node broker and creates `events` and `dead_letters`.
    pub fn start(events: &str, dead_letters: &str) -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(1)?;
        cluster.create_topic(events, EVENT_PARTITIONS, 1)?;
        cluster.create_topic(dead_letters, 1, 1)?;
        Ok(Broker { cluster })
    }

    /// `host:port` of the broker, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
