//! Ring hand-off between two threads: messages per second through a 1024-slot ring,
//! the consumer reading batches of up to 256.

use carbyne::pipeline::ring::ring;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MESSAGES: u64 = 1 << 20;

fn bench_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MESSAGES));
    g.bench_function("spsc_1024_u64", |b| {
        b.iter(|| {
            let (mut p, mut cons) = ring::<u64>(1024);
            let producer = std::thread::spawn(move || {
                for i in 0..MESSAGES {
                    let mut v = i;
                    while let Err(back) = p.try_publish(v) {
                        v = back;
                        std::hint::spin_loop();
                    }
                }
            });
            let (mut seen, mut sum) = (0u64, 0u64);
            while seen < MESSAGES {
                seen += cons.poll_batch(256, |v, _| sum = sum.wrapping_add(v)) as u64;
            }
            producer.join().unwrap();
            assert_eq!(sum, MESSAGES * (MESSAGES - 1) / 2);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ring);
criterion_main!(benches);
