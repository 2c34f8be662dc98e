//! Pending-transaction notices (`set_pending_transaction_callback`): while someone
//! watches, the BLP hands each transaction it accepts to the output stage, which
//! publishes it here. With no watcher the BLP does nothing more than read one flag.

use crate::protocol::SignedTransaction;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Transactions a slow watcher may fall behind before it skips ahead.
const DEPTH: usize = 4096;

pub struct PendingFeed {
    watchers: AtomicUsize,
    sender: broadcast::Sender<Arc<SignedTransaction>>,
}

impl Default for PendingFeed {
    fn default() -> PendingFeed {
        PendingFeed {
            watchers: AtomicUsize::new(0),
            sender: broadcast::channel(DEPTH).0,
        }
    }
}

impl PendingFeed {
    /// Whether anyone watches (the BLP asks once per accepted transaction).
    pub fn watched(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }
    pub fn publish(&self, trx: Arc<SignedTransaction>) {
        let _ = self.sender.send(trx);
    }
    /// Starts watching; watching stops when the handle is dropped.
    pub fn watch(self: &Arc<Self>) -> PendingWatch {
        let rx = self.sender.subscribe();
        self.watchers.fetch_add(1, Ordering::Relaxed);
        PendingWatch {
            feed: self.clone(),
            rx,
        }
    }
}

pub struct PendingWatch {
    feed: Arc<PendingFeed>,
    pub rx: broadcast::Receiver<Arc<SignedTransaction>>,
}

impl Drop for PendingWatch {
    fn drop(&mut self) {
        self.feed.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchers_are_counted_and_hear_what_is_published() {
        let feed = Arc::new(PendingFeed::default());
        assert!(!feed.watched());
        let mut a = feed.watch();
        let b = feed.watch();
        assert!(feed.watched());
        feed.publish(Arc::new(SignedTransaction::default()));
        assert_eq!(*a.rx.try_recv().unwrap(), SignedTransaction::default());
        drop(b);
        assert!(feed.watched());
        drop(a);
        assert!(!feed.watched());
    }
}
