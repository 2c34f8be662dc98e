//! Backpressure at the netio layer, on both backends: a sink that is full makes the
//! server stop reading, so the client's writes block in TCP flow control, and nothing
//! is lost, duplicated, reordered or renumbered when the sink has room again.

use netio::client::Client;
use netio::{BackendChoice, Config, ConnId, Delivery, Server, Sink};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The frames a sink took: connection, seq, bytes.
type Taken = Arc<Mutex<Vec<(ConnId, u64, Vec<u8>)>>>;

/// Takes frames only while the test grants room; records what it took.
struct Gate {
    room: Arc<AtomicUsize>,
    got: Taken,
}

impl Sink for Gate {
    fn on_frame(&mut self, conn: ConnId, seq: u64, frame: &[u8]) -> Delivery {
        let room = self.room.load(Ordering::Acquire);
        if room == 0 {
            return Delivery::Full;
        }
        self.room.store(room - 1, Ordering::Release);
        self.got.lock().unwrap().push((conn, seq, frame.to_vec()));
        Delivery::Taken
    }
}

fn frame(i: u32) -> Vec<u8> {
    // 1 KiB frames with their index in front, so order and content can be checked.
    let mut f = i.to_le_bytes().to_vec();
    f.resize(1024, (i % 251) as u8);
    f
}

fn run(backend: BackendChoice, expect: netio::Backend) {
    const N: u32 = 4000; // 4 MiB: far more than the socket buffers hold
    let room = Arc::new(AtomicUsize::new(0));
    let got: Taken = Arc::new(Mutex::new(Vec::new()));
    let (r, g) = (room.clone(), got.clone());
    let mut sink = Some(Gate { room: r, got: g });
    let config = Config {
        backend,
        recv_buffer_bytes: 64 * 1024,
        in_flight_max: N,
        ..Config::default()
    };
    let server = Server::start(config, |_| sink.take().unwrap(), |_| {}).unwrap();
    assert_eq!(server.backend(), expect);
    let mut client = Client::connect(server.local_addr()).unwrap();
    client.set_send_buffer(16 * 1024).unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (w, d) = (written.clone(), done.clone());
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            client.send_frame(&frame(i)).unwrap();
            client.flush().unwrap();
            w.store(i as usize + 1, Ordering::Release);
        }
        d.store(true, Ordering::Release);
        client
    });

    // The sink is full: the writer must stall long before it has written everything,
    // and the server must stop taking bytes in.
    std::thread::sleep(Duration::from_millis(500));
    let stalled_at = written.load(Ordering::Acquire);
    assert!(
        !done.load(Ordering::Acquire) && stalled_at < N as usize / 2,
        "the client was not held back: wrote {stalled_at} of {N} frames"
    );
    let stats = server.stats();
    assert!(stats.pauses >= 1, "{stats:?}");
    assert!(
        stats.bytes_in < (N as u64) * 1028 / 2,
        "the server kept reading a paused connection: {stats:?}"
    );
    assert_eq!(got.lock().unwrap().len(), 0);

    // Grant room in small steps, as a draining queue would.
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < N as usize {
        assert!(Instant::now() < deadline, "frames stopped arriving");
        if room.load(Ordering::Acquire) == 0 {
            room.store(97, Ordering::Release);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _client = writer.join().unwrap();
    let got = got.lock().unwrap();
    assert_eq!(got.len(), N as usize);
    for (i, (conn, seq, body)) in got.iter().enumerate() {
        assert_eq!(*conn, got[0].0);
        assert_eq!(
            *seq, i as u64,
            "seqs are consecutive: nothing skipped or renumbered"
        );
        assert_eq!(
            body,
            &frame(i as u32),
            "frame {i} arrived whole and in order"
        );
    }
    // Threads publish their counters every tick.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let s = server.stats();
        if s.frames == N as u64 || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(stats.frames, N as u64);
    assert_eq!(stats.sink_refused, 0);
    assert!(stats.pauses > 1, "{stats:?}");
}

#[test]
fn a_full_sink_holds_the_client_back_over_io_uring() {
    run(BackendChoice::IoUring, netio::Backend::IoUring);
}

#[test]
fn a_full_sink_holds_the_client_back_over_the_fallback() {
    run(BackendChoice::Fallback, netio::Backend::Fallback);
}
