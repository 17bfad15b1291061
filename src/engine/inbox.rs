//! Where query result batches wait for the reader that asked: one inbox per aggregate,
//! and one outstanding query per inbox (the original query service closes an epoch
//! per query, so concurrent queries of one aggregate would race each other). A v2.1.1
//! reply carries its query's correlation id, so a late batch of an earlier query is
//! told apart and never credited to a newer one; a v2.0.1 reply is known only by its
//! aggregate.

/// One result batch, as the listener saw it.
#[derive(Debug, Clone)]
pub struct Batch {
    /// When it was consumed (run-time ns).
    pub at: u64,
    pub events: u32,
    pub bytes: u64,
    pub max_version: i64,
    /// The service's error text, when it answered with one.
    pub error: Option<String>,
    /// The query it answers, where the reply says (v2.1.1 queries' correlation id).
    pub correlation: Option<uuid::Uuid>,
}

pub struct Inbox {
    /// Held by the reader whose query is outstanding.
    pub turn: tokio::sync::Mutex<()>,
    pub tx: async_channel::Sender<Batch>,
    pub rx: async_channel::Receiver<Batch>,
}

/// Inboxes of all 256 aggregate ids.
pub struct Inboxes {
    slots: Vec<Inbox>,
}

impl Default for Inboxes {
    fn default() -> Self {
        Inboxes {
            slots: (0..256)
                .map(|_| {
                    let (tx, rx) = async_channel::bounded(1024);
                    Inbox {
                        turn: tokio::sync::Mutex::new(()),
                        tx,
                        rx,
                    }
                })
                .collect(),
        }
    }
}

impl Inboxes {
    pub fn get(&self, aggregate: i8) -> &Inbox {
        &self.slots[aggregate as u8 as usize]
    }

    /// Hands a batch to its aggregate's reader; drops it when nobody drains the inbox.
    pub fn deliver(&self, aggregate: i8, batch: Batch) {
        let _ = self.get(aggregate).tx.try_send(batch);
    }
}
