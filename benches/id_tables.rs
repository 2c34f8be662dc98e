//! The id tables under the pipeline's access pattern: batches of fresh ids against
//! tables far larger than the caches, where each lookup is a miss to memory that only
//! prefetching overlaps (docs/BENCHMARKS.md, issue 3, twelfth part).
//!
//! * `seen_cache/contains_many_256`: the verify worker's duplicate check, a batch of
//!   256 fresh ids against the signature cache at its profile size (1,048,576 ids).
//! * `seen_cache/insert_many_256`: recording the batch afterwards (full shards are
//!   cleared as in the pipeline).
//! * `dedup_index/insert_new_prefetched_8_ahead`: the BLP's duplicate index, a table of
//!   32-byte slots a third full, fresh ids inserted one at a time with each one's
//!   lines asked for 8 ids ahead, as the BLP's look-ahead does.
//!
//! Ids come from a counter through SplitMix64 inside the timed loop (a few ns each),
//! so that every id is new and its lines are not in the caches.

use carbyne::chain::store::id_table::{Align32, IdTable};
use carbyne::pipeline::verify::cache::SeenCache;
use carbyne::protocol::TransactionId;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 256;
const SEEN_ENTRIES: usize = 1 << 20;
const DEDUP_SLOTS_LOG2: u32 = 22;

/// Fresh ids: SplitMix64 over a counter, 32 bytes at a time.
struct Ids(u64);

impl Ids {
    fn word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn next(&mut self) -> [u8; 32] {
        let mut id = [0u8; 32];
        for chunk in id.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.word().to_le_bytes());
        }
        id
    }
    fn batch(&mut self) -> Vec<(TransactionId, [u8; 32], u32)> {
        (0..BATCH)
            .map(|_| (TransactionId(self.next()), self.next(), u32::MAX))
            .collect()
    }
}

fn bench_seen_cache(c: &mut Criterion) {
    let cache = SeenCache::new(SEEN_ENTRIES);
    let mut ids = Ids(1);
    // About three quarters full, as after a few seconds at full load.
    for _ in 0..SEEN_ENTRIES * 3 / 4 / BATCH {
        cache.insert_many(&ids.batch());
    }
    let mut g = c.benchmark_group("seen_cache");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("contains_many_256", |b| {
        b.iter_batched(
            || ids.batch(),
            |batch| {
                let refs: Vec<&TransactionId> = batch.iter().map(|e| &e.0).collect();
                let found = cache.contains_many(&refs);
                assert!(found.iter().all(|f| !f), "fresh ids are not in the cache");
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("insert_many_256", |b| {
        b.iter_batched(
            || ids.batch(),
            |batch| cache.insert_many(&batch),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_dedup_index(c: &mut Criterion) {
    let slots = 1usize << DEDUP_SLOTS_LOG2;
    let mut table = IdTable::<u32, 24, Align32>::with_capacity(slots / 2);
    let mut ids = Ids(2);
    for _ in 0..slots / 3 {
        table.insert_new(&ids.next(), 1);
    }
    let mut g = c.benchmark_group("dedup_index");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("insert_new_prefetched_8_ahead", |b| {
        b.iter_custom(|iters| {
            let mut timed = std::time::Duration::ZERO;
            for _ in 0..iters {
                let batch: Vec<[u8; 32]> = (0..BATCH).map(|_| ids.next()).collect();
                // Kept between a third and a half full, refilled outside the timing.
                if table.len() + BATCH > table.capacity() {
                    table.clear();
                    for _ in 0..slots / 3 {
                        table.insert_new(&ids.next(), 1);
                    }
                }
                let started = std::time::Instant::now();
                for id in batch.iter().take(8) {
                    table.prefetch(id);
                }
                for (k, id) in batch.iter().enumerate() {
                    if let Some(ahead) = batch.get(k + 8) {
                        table.prefetch(ahead);
                    }
                    assert!(table.insert_new(id, 7));
                }
                timed += started.elapsed();
            }
            timed
        })
    });
    g.finish();
}

criterion_group!(benches, bench_seen_cache, bench_dedup_index);
criterion_main!(benches);
