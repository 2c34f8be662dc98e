//! Carbyne's transaction ingest server: length-prefixed signed transactions over TCP.
//!
//! One or more network threads each run an event loop — io_uring on Linux (multishot
//! accept, multishot recv into a provided-buffer ring, one send in flight per
//! connection), or a portable epoll/kqueue loop built on `mio` — that cut the byte
//! stream into frames, hand each frame to the application's [`Sink`] and write back
//! the answers the application later sends through a [`Responder`].
//!
//! # Wire protocol
//!
//! All integers are little-endian.
//!
//! **Client → server: frame.** `u32 N`, then `N` bytes (a signed transaction, opaque
//! to netio). `N` must be in `1..=frame_bytes_max` (64 KiB by default).
//!
//! * `N > frame_bytes_max`: the server answers `TOO_LARGE` (code 1) and closes the
//!   connection once that answer is flushed: the framing can no longer be trusted.
//! * `N == 0`: the server answers `MALFORMED_FRAME` (code 2) and closes the same way.
//!
//! The refusal is sent as soon as the 4-byte header is read; the body is not awaited.
//! Bytes that follow a bad header are read and discarded until the connection closes.
//!
//! **Server → client: answer.** `u32 L`, then `u64 seq`, `u8 code`, then `L - 9` bytes
//! of UTF-8 detail (may be empty). So `L >= 9` always.
//!
//! * `seq` is the 0-based index of the frame on this connection: frames get seq 0, 1,
//!   2, … in arrival order, counting every frame whose header was valid (including
//!   frames netio itself refused).
//! * Every frame gets exactly one answer, unless the connection closes first.
//! * Answers may arrive **out of order**: the application answers when its pipeline is
//!   done with a frame. Clients match answers to frames by `seq`.
//! * Codes 0..=15 are netio's ([`status`]); applications use 16..=255 for their own
//!   (and [`status::ACCEPTED`] / [`status::OVERLOADED`] where they fit).
//!
//! | code | name | meaning | connection |
//! |---|---|---|---|
//! | 0 | `ACCEPTED` | taken (sent by the application) | kept |
//! | 1 | `TOO_LARGE` | declared length > `frame_bytes_max` | closed after the answer |
//! | 2 | `MALFORMED_FRAME` | zero-length frame | closed after the answer |
//! | 3 | `IN_FLIGHT_LIMIT` | more than `in_flight_max` unanswered frames; frame dropped | kept |
//! | 4 | `OVERLOADED` | the application refused the frame; frame dropped | kept |
//!
//! **Backpressure.** When the application's queue is full ([`Delivery::Full`]), netio
//! does not refuse the frame: it stops reading that connection until the queue has
//! room again, so the client's writes block in TCP flow control. Frames are never
//! dropped for load.
//!
//! **The server also closes a connection, without an answer,** when:
//! no byte arrived and no answer byte was sent for `idle_timeout`; a frame whose
//! first byte arrived is not complete within `frame_timeout` (slow drip); the client
//! does not read its answers and more than `write_buffer_bytes_max` answer bytes pile
//! up; the server already has `connections_max` connections (a new connection is
//! closed at once). Each of these is counted in [`Stats`].
//!
//! # Backends
//!
//! [`BackendChoice::Auto`] tries io_uring (ring setup plus a probe of the opcodes it
//! needs, then per-thread setup of the provided-buffer ring) and falls back to the
//! portable backend if anything fails; [`Server::fallback_reason`] says why. Setting the
//! environment variable `NETIO_DISABLE_IO_URING=1` makes `Auto` choose the fallback
//! without trying (an operator's switch; an explicit [`BackendChoice::IoUring`] ignores
//! it and fails if io_uring does not work).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub mod client;
mod conn;
mod fallback;
mod listen;
#[cfg(target_os = "linux")]
mod uring;

/// Frames are a u32 little-endian length followed by that many bytes.
pub const FRAME_HEADER_BYTES: usize = 4;
/// The largest frame accepted by [`split_frame`] (the server's limit is
/// [`Config::frame_bytes_max`], 64 KiB by default).
pub const FRAME_BYTES_MAX: usize = 64 * 1024;
/// An answer's fixed part after its length: u64 seq + u8 code.
pub const ANSWER_FIXED_BYTES: usize = 9;
/// The environment variable that makes [`BackendChoice::Auto`] skip io_uring.
pub const DISABLE_IO_URING_ENV: &str = "NETIO_DISABLE_IO_URING";

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The declared length exceeds the limit.
    TooLarge(usize),
    /// An answer declared a length below its fixed 9 bytes.
    AnswerTooShort(usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge(n) => write!(f, "declared length {n} is too large"),
            FrameError::AnswerTooShort(n) => {
                write!(
                    f,
                    "answer length {n} is below the fixed {ANSWER_FIXED_BYTES} bytes"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits one complete frame off the front of `buf`: `Ok(Some((body, consumed)))`,
/// `Ok(None)` when more bytes are needed.
pub fn split_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    if buf.len() < FRAME_HEADER_BYTES {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(len));
    }
    let end = FRAME_HEADER_BYTES + len;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((&buf[FRAME_HEADER_BYTES..end], end)))
}

/// Appends a frame (u32 LE length + body) to `out`. A body longer than `u32::MAX`
/// bytes cannot be framed; only its first `u32::MAX` bytes are written.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    let n = body.len().min(u32::MAX as usize);
    out.reserve(FRAME_HEADER_BYTES + n);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&body[..n]);
}

/// Appends an answer (u32 LE length, u64 LE seq, u8 code, detail) to `out`. A detail
/// that would overflow the u32 length is truncated.
pub fn encode_answer(seq: u64, code: u8, detail: &[u8], out: &mut Vec<u8>) {
    let d = detail.len().min(u32::MAX as usize - ANSWER_FIXED_BYTES);
    out.reserve(FRAME_HEADER_BYTES + ANSWER_FIXED_BYTES + d);
    out.extend_from_slice(&((ANSWER_FIXED_BYTES + d) as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(code);
    out.extend_from_slice(&detail[..d]);
}

/// Decodes one answer off the front of `buf`: `Ok(Some((answer, consumed)))`, or
/// `Ok(None)` when more bytes are needed.
pub fn decode_answer(buf: &[u8]) -> Result<Option<(client::Answer, usize)>, FrameError> {
    if buf.len() < FRAME_HEADER_BYTES {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len < ANSWER_FIXED_BYTES {
        return Err(FrameError::AnswerTooShort(len));
    }
    let end = FRAME_HEADER_BYTES + len;
    if buf.len() < end {
        return Ok(None);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&buf[4..12]);
    let answer = client::Answer {
        seq: u64::from_le_bytes(seq),
        code: buf[12],
        detail: buf[13..end].to_vec(),
    };
    Ok(Some((answer, end)))
}

/// Answer codes netio itself uses; applications use 16..=255 for their own.
pub mod status {
    pub const ACCEPTED: u8 = 0;
    /// Declared length > frame_bytes_max; connection closed.
    pub const TOO_LARGE: u8 = 1;
    /// Zero-length frame; connection closed.
    pub const MALFORMED_FRAME: u8 = 2;
    /// More than in_flight_max unanswered frames; frame dropped, connection kept.
    pub const IN_FLIGHT_LIMIT: u8 = 3;
    /// The application refused the frame for load; frame dropped. (netio itself
    /// pauses the connection instead when the sink answers [`Delivery::Full`].)
    pub const OVERLOADED: u8 = 4;
    /// The first code applications may use for their own answers.
    pub const APPLICATION_FIRST: u8 = 16;
}

/// A connection: network thread (8 bits), slot (24 bits) and the slot's generation
/// (32 bits), so an answer to a closed connection is dropped (and counted), never
/// delivered to a later connection in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

impl ConnId {
    pub(crate) fn new(thread: usize, slot: u32, gen: u32) -> ConnId {
        ConnId(((thread as u64) << 56) | ((slot as u64 & 0xff_ffff) << 32) | gen as u64)
    }
    /// The network thread that owns the connection.
    pub fn thread(self) -> usize {
        (self.0 >> 56) as usize
    }
    pub(crate) fn slot(self) -> u32 {
        ((self.0 >> 32) & 0xff_ffff) as u32
    }
    pub(crate) fn gen(self) -> u32 {
        self.0 as u32
    }
}

/// The most network threads (the thread index has 8 bits in [`ConnId`]).
pub const THREADS_MAX: usize = 256;
/// The most connection slots per thread (24 bits in [`ConnId`]).
pub const SLOTS_MAX: u32 = 1 << 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// io_uring if it works here, else the fallback (see [`Server::fallback_reason`]).
    Auto,
    /// io_uring or an error from [`Server::start`].
    IoUring,
    /// The portable backend (epoll via mio).
    Fallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    IoUring,
    Fallback,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub backend: BackendChoice,
    /// Network threads; more than one uses SO_REUSEPORT listeners, one per thread.
    pub threads: usize,
    /// io_uring submission queue entries (the completion queue gets four times as many).
    pub ring_entries: u32,
    /// io_uring SQPOLL (a kernel thread polls the submission queue; costs a core).
    pub sqpoll: bool,
    pub sqpoll_idle_ms: u32,
    /// Provided buffers per thread (power of two, at most 32768). io_uring only.
    pub buffer_count: u16,
    /// Bytes per provided buffer (the fallback reads into one buffer this size).
    pub buffer_bytes: u32,
    pub frame_bytes_max: u32,
    /// Unanswered frames per connection. A frame is also refused as in flight when it
    /// is `64 * in_flight_max` frames past the oldest unanswered one, which bounds the
    /// per-connection bookkeeping even if an answer never comes.
    pub in_flight_max: u32,
    /// No bytes received and none sent for this long → close (counted).
    pub idle_timeout: Duration,
    /// A frame whose first byte arrived must be complete within this (slow drip) → close (counted).
    pub frame_timeout: Duration,
    /// Per server; extra connections are closed at once (counted).
    pub connections_max: u32,
    /// Unsent answer bytes per connection; a client that never reads gets closed (counted).
    pub write_buffer_bytes_max: u32,
    /// The kernel receive buffer of each connection (SO_RCVBUF, set on the listener so
    /// accepted sockets inherit it); 0 leaves the kernel's autotuning. A bounded
    /// buffer bounds how much a paused connection queues in the kernel, and so the
    /// latency that backpressure adds.
    pub recv_buffer_bytes: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backend: BackendChoice::Auto,
            threads: 1,
            ring_entries: 1024,
            sqpoll: false,
            sqpoll_idle_ms: 1000,
            buffer_count: 1024,
            buffer_bytes: 16 * 1024,
            frame_bytes_max: 64 * 1024,
            in_flight_max: 4096,
            idle_timeout: Duration::from_secs(30),
            frame_timeout: Duration::from_secs(5),
            connections_max: 4096,
            write_buffer_bytes_max: 4 * 1024 * 1024,
            recv_buffer_bytes: 0,
        }
    }
}

impl Config {
    fn validate(&self) -> std::io::Result<()> {
        let bad = |what: &str| {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                what.to_string(),
            ))
        };
        if self.threads == 0 || self.threads > THREADS_MAX {
            return bad("netio: threads must be 1..=256");
        }
        if self.buffer_count == 0
            || !self.buffer_count.is_power_of_two()
            || self.buffer_count > 32768
        {
            return bad("netio: buffer_count must be a power of two in 1..=32768");
        }
        if self.buffer_bytes < 64 || self.buffer_bytes > 1 << 30 {
            return bad("netio: buffer_bytes must be 64..=1 GiB");
        }
        if self.frame_bytes_max == 0 || self.frame_bytes_max > 1 << 30 {
            return bad("netio: frame_bytes_max must be 1..=1 GiB");
        }
        if self.in_flight_max == 0 {
            return bad("netio: in_flight_max must be at least 1");
        }
        if self.connections_max == 0 {
            return bad("netio: connections_max must be at least 1");
        }
        if self.write_buffer_bytes_max == 0 {
            return bad("netio: write_buffer_bytes_max must be at least 1");
        }
        if self.recv_buffer_bytes > i32::MAX as u32 / 2 {
            return bad("netio: recv_buffer_bytes must be at most 1 GiB");
        }
        if self.ring_entries == 0 {
            return bad("netio: ring_entries must be at least 1");
        }
        if self.idle_timeout.is_zero() || self.frame_timeout.is_zero() {
            return bad("netio: idle_timeout and frame_timeout must be non-zero");
        }
        Ok(())
    }

    /// How often a thread checks timeouts and publishes its counters.
    pub(crate) fn tick(&self) -> Duration {
        let t = self.idle_timeout.min(self.frame_timeout) / 4;
        t.clamp(Duration::from_millis(5), Duration::from_millis(50))
    }
}

/// What the application did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Taken; the application answers later through a [`Responder`].
    Taken,
    /// Refused: netio answers at once with this code and the frame is dropped.
    Refused(u8),
    /// Not taken now: the application's queue is full. The connection *pauses*: netio
    /// keeps the frame (and whatever follows it) and stops reading the socket, so TCP
    /// flow control pushes back on the client; it offers the frame again every
    /// [`RESUME_POLL`], or at once when the sink calls the thread's [`Waker`], until
    /// it is taken. The frame keeps its seq; nothing is dropped.
    Full,
}

/// How often a network thread offers a paused connection's next frame again without
/// being woken: a safety net, since a sink that answers [`Delivery::Full`] is
/// expected to wake the thread (see [`Sink::attach`]) when it has room again.
pub const RESUME_POLL: Duration = Duration::from_millis(2);

/// Wakes one network thread from any thread: its loop runs again and offers the
/// paused connections' frames to its sink. Cheap when the thread is already awake.
#[derive(Clone)]
pub struct Waker {
    thread: Arc<ThreadShared>,
}

impl Waker {
    pub fn wake(&self) {
        self.thread.poke();
    }
}

/// The application's end: called on the network thread for each complete frame. The
/// slice is valid only during the call.
pub trait Sink: Send + 'static {
    /// Takes, refuses or defers (`Full`: backpressure) one frame.
    fn on_frame(&mut self, conn: ConnId, seq: u64, frame: &[u8]) -> Delivery;
    /// Called once before the thread runs, with a handle that wakes it. A sink that
    /// answers `Full` keeps it and calls it when it has room again, so that paused
    /// connections resume at once rather than at the next [`RESUME_POLL`]. Default:
    /// dropped.
    fn attach(&mut self, _waker: Waker) {}
    /// Called once per loop iteration after a burst of frames (lets the sink flush a
    /// batch). Default: nothing.
    fn end_of_batch(&mut self) {}
}

/// Counters, summed over the network threads. Threads publish theirs at least every
/// 50 ms (and when they stop).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections_accepted: u64,
    /// Admitted connections that closed, for any reason.
    pub connections_closed: u64,
    /// Connections closed at once because `connections_max` were open.
    pub connections_refused: u64,
    /// Frames with a valid header that arrived whole (including those refused).
    pub frames: u64,
    pub bytes_in: u64,
    /// Answers queued to a live connection (netio's own and the application's).
    pub answers_sent: u64,
    /// Application answers dropped: the connection had closed, or no frame with that
    /// seq was awaiting an answer (never issued, or already answered).
    pub answers_dropped: u64,
    pub too_large: u64,
    pub malformed: u64,
    pub in_flight_limited: u64,
    pub sink_refused: u64,
    /// Times a connection paused because the sink was full (backpressure). Offering
    /// the waiting frame again without success does not count as another pause.
    pub pauses: u64,
    pub idle_timeouts: u64,
    pub frame_timeouts: u64,
    pub write_overflows: u64,
    /// io_uring: a multishot recv ended because the provided-buffer ring was empty
    /// (it is re-armed). Always 0 on the fallback.
    pub no_buffers: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.connections_accepted += o.connections_accepted;
        self.connections_closed += o.connections_closed;
        self.connections_refused += o.connections_refused;
        self.frames += o.frames;
        self.bytes_in += o.bytes_in;
        self.answers_sent += o.answers_sent;
        self.answers_dropped += o.answers_dropped;
        self.too_large += o.too_large;
        self.malformed += o.malformed;
        self.in_flight_limited += o.in_flight_limited;
        self.sink_refused += o.sink_refused;
        self.pauses += o.pauses;
        self.idle_timeouts += o.idle_timeouts;
        self.frame_timeouts += o.frame_timeouts;
        self.write_overflows += o.write_overflows;
        self.no_buffers += o.no_buffers;
    }
}

/// How the responder wakes a network thread.
pub(crate) enum Wake {
    /// An eventfd the io_uring loop keeps a read armed on.
    #[cfg(target_os = "linux")]
    EventFd(std::os::fd::OwnedFd),
    Mio(mio::Waker),
}

impl Wake {
    fn wake(&self) {
        match self {
            #[cfg(target_os = "linux")]
            Wake::EventFd(fd) => {
                use std::os::fd::AsRawFd;
                let one: u64 = 1;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. A full
                // counter (EAGAIN) still leaves the fd readable, which is all we need.
                unsafe {
                    libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
                }
            }
            Wake::Mio(w) => {
                let _ = w.wake();
            }
        }
    }
}

/// What a network thread shares with the rest of the server.
pub(crate) struct ThreadShared {
    /// Encoded answer records: conn u64, seq u64, code u8, detail len u32, detail.
    pub(crate) mailbox: Mutex<Vec<u8>>,
    /// Set by the responder when it added to the mailbox; cleared by the thread
    /// before it takes the mailbox. A false → true transition wakes the thread.
    pub(crate) pending: AtomicBool,
    pub(crate) wake: OnceLock<Wake>,
    pub(crate) alive: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) stats: Mutex<Stats>,
}

impl ThreadShared {
    fn new() -> ThreadShared {
        ThreadShared {
            mailbox: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            wake: OnceLock::new(),
            alive: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
        }
    }
    fn poke(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Some(w) = self.wake.get() {
                w.wake();
            }
        }
    }
    /// Takes the mailbox's contents into `into` (cleared first), swapping buffers so
    /// neither side allocates in the steady state.
    pub(crate) fn take_mail(&self, into: &mut Vec<u8>) -> bool {
        into.clear();
        if !self.pending.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut m = self.mailbox.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *m, into);
        !into.is_empty()
    }
    pub(crate) fn publish(&self, s: &Stats) {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = s.clone();
    }
}

pub(crate) struct ServerShared {
    pub(crate) threads: Vec<Arc<ThreadShared>>,
    /// Live connections over all threads (for `connections_max`).
    pub(crate) live: AtomicU32,
    /// Answers the responder could not route (unknown thread, or thread stopped).
    pub(crate) unrouted: AtomicU64,
}

pub(crate) const RECORD_FIXED: usize = 8 + 8 + 1 + 4;

fn push_record(buf: &mut Vec<u8>, conn: ConnId, seq: u64, code: u8, detail: &[u8]) {
    let d = detail.len().min(u32::MAX as usize - ANSWER_FIXED_BYTES);
    buf.reserve(RECORD_FIXED + d);
    buf.extend_from_slice(&conn.0.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.push(code);
    buf.extend_from_slice(&(d as u32).to_le_bytes());
    buf.extend_from_slice(&detail[..d]);
}

/// Sends answers from any thread. Wakes the owning network thread (eventfd or mio
/// waker) so answers go out promptly.
#[derive(Clone)]
pub struct Responder {
    shared: Arc<ServerShared>,
}

impl Responder {
    fn route(&self, conn: ConnId) -> Option<&ThreadShared> {
        let t = self.shared.threads.get(conn.thread())?;
        t.alive.load(Ordering::Acquire).then_some(&**t)
    }

    /// Queues one answer. Answers to a connection that has closed are dropped and
    /// counted in [`Stats::answers_dropped`].
    pub fn answer(&self, conn: ConnId, seq: u64, code: u8, detail: &[u8]) {
        match self.route(conn) {
            Some(t) => {
                push_record(
                    &mut t.mailbox.lock().unwrap_or_else(|e| e.into_inner()),
                    conn,
                    seq,
                    code,
                    detail,
                );
                t.poke();
            }
            None => {
                self.shared.unrouted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Many answers at once with one wake-up per thread.
    pub fn answer_many<D: AsRef<[u8]>>(
        &self,
        answers: impl IntoIterator<Item = (ConnId, u64, u8, D)>,
    ) {
        let n = self.shared.threads.len();
        let answers = answers.into_iter();
        // Room for short details up front: a block's answers (hundreds of thousands)
        // are not built by doubling and copying. The upper bound serves a filtered
        // list, whose lower bound is zero.
        let (least, most) = answers.size_hint();
        let room = most.unwrap_or(least).saturating_mul(RECORD_FIXED + 8) / n.max(1);
        let mut per: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(room)).collect();
        for (conn, seq, code, detail) in answers {
            match per.get_mut(conn.thread()) {
                Some(b) => push_record(b, conn, seq, code, detail.as_ref()),
                None => {
                    self.shared.unrouted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for (i, b) in per.into_iter().enumerate() {
            if b.is_empty() {
                continue;
            }
            let t = &self.shared.threads[i];
            if !t.alive.load(Ordering::Acquire) {
                let mut count = 0u64;
                let mut p = 0;
                while p + RECORD_FIXED <= b.len() {
                    let d =
                        u32::from_le_bytes([b[p + 17], b[p + 18], b[p + 19], b[p + 20]]) as usize;
                    p += RECORD_FIXED + d;
                    count += 1;
                }
                self.shared.unrouted.fetch_add(count, Ordering::Relaxed);
                continue;
            }
            t.mailbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&b);
            t.poke();
        }
    }
}

/// A command from `Server::start` to a network thread during setup.
pub(crate) enum Setup {
    Build(Backend),
    Run,
    Abort,
}

/// The running server. Dropping it stops and joins the network threads.
pub struct Server {
    shared: Arc<ServerShared>,
    handles: Vec<JoinHandle<()>>,
    local_addr: SocketAddr,
    backend: Backend,
    fallback_reason: Option<String>,
}

fn env_disables_uring() -> bool {
    match std::env::var(DISABLE_IO_URING_ENV) {
        Ok(v) => {
            let v = v.trim().to_ascii_lowercase();
            !(v.is_empty() || v == "0" || v == "false" || v == "no")
        }
        Err(_) => false,
    }
}

/// Whether the io_uring backend can run here (ring setup and the opcodes it needs);
/// the error says why not. For `carbyne profile check`.
pub fn probe_io_uring() -> Result<(), String> {
    probe_uring()
}

#[cfg(target_os = "linux")]
fn probe_uring() -> Result<(), String> {
    uring::probe()
}

#[cfg(not(target_os = "linux"))]
fn probe_uring() -> Result<(), String> {
    Err("io_uring is Linux-only".to_string())
}

impl Server {
    /// Starts `config.threads` network threads. `make_sink(i)` builds thread i's sink;
    /// `on_thread_start(i)` runs first on thread i (the node pins the thread there).
    pub fn start<S: Sink>(
        config: Config,
        mut make_sink: impl FnMut(usize) -> S,
        on_thread_start: impl Fn(usize) + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        config.validate()?;
        let mut fallback_reason = None;
        let mut backend = match config.backend {
            BackendChoice::Fallback => Backend::Fallback,
            BackendChoice::IoUring => match probe_uring() {
                Ok(()) => Backend::IoUring,
                Err(e) => {
                    return Err(std::io::Error::other(format!(
                        "netio: io_uring unavailable: {e}"
                    )))
                }
            },
            BackendChoice::Auto => {
                if env_disables_uring() {
                    fallback_reason = Some(format!("io_uring disabled by {DISABLE_IO_URING_ENV}"));
                    Backend::Fallback
                } else {
                    match probe_uring() {
                        Ok(()) => Backend::IoUring,
                        Err(e) => {
                            fallback_reason = Some(e);
                            Backend::Fallback
                        }
                    }
                }
            }
        };

        let listeners = listen::bind_all(config.listen, config.threads, config.recv_buffer_bytes)?;
        let local_addr = listeners[0].local_addr()?;
        let shared = Arc::new(ServerShared {
            threads: (0..config.threads)
                .map(|_| Arc::new(ThreadShared::new()))
                .collect(),
            live: AtomicU32::new(0),
            unrouted: AtomicU64::new(0),
        });
        let on_start = Arc::new(on_thread_start);
        let (report_tx, report_rx) = mpsc::channel::<(usize, Result<(), String>)>();
        let mut commands = Vec::new();
        let mut handles = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let mut sink = make_sink(i);
            sink.attach(Waker {
                thread: shared.threads[i].clone(),
            });
            let (cmd_tx, cmd_rx) = mpsc::channel::<Setup>();
            let ctx = conn::ThreadCtx {
                index: i,
                config: config.clone(),
                thread: shared.threads[i].clone(),
                server: shared.clone(),
            };
            let report = report_tx.clone();
            let on_start = on_start.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("netio-{i}"))
                .spawn(move || {
                    on_start(i);
                    thread_main(ctx, listener, sink, cmd_rx, report);
                });
            match spawned {
                Ok(h) => {
                    handles.push(h);
                    commands.push(cmd_tx);
                }
                Err(e) => {
                    for c in &commands {
                        let _ = c.send(Setup::Abort);
                    }
                    for h in handles {
                        let _ = h.join();
                    }
                    return Err(e);
                }
            }
        }
        drop(report_tx);

        let abort = |commands: &[mpsc::Sender<Setup>], handles: Vec<JoinHandle<()>>| {
            for c in commands {
                let _ = c.send(Setup::Abort);
            }
            for h in handles {
                let _ = h.join();
            }
        };
        loop {
            for c in &commands {
                let _ = c.send(Setup::Build(backend));
            }
            let mut failure: Option<String> = None;
            for _ in 0..commands.len() {
                match report_rx.recv() {
                    Ok((i, Err(e))) => {
                        failure.get_or_insert(format!("thread {i}: {e}"));
                    }
                    Ok((_, Ok(()))) => {}
                    Err(_) => {
                        failure.get_or_insert("a network thread died during setup".to_string());
                        break;
                    }
                }
            }
            match failure {
                None => break,
                Some(e) if backend == Backend::IoUring && config.backend == BackendChoice::Auto => {
                    fallback_reason = Some(e);
                    backend = Backend::Fallback;
                }
                Some(e) => {
                    abort(&commands, handles);
                    return Err(std::io::Error::other(format!("netio: {e}")));
                }
            }
        }
        for c in &commands {
            let _ = c.send(Setup::Run);
        }
        Ok(Server {
            shared,
            handles,
            local_addr,
            backend,
            fallback_reason,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What actually runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why `Auto` fell back (the io_uring setup or probe error), if it did.
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback_reason.clone()
    }

    pub fn responder(&self) -> Responder {
        Responder {
            shared: self.shared.clone(),
        }
    }

    /// Summed over threads (each publishes at least every 50 ms).
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for t in &self.shared.threads {
            s.add(&t.stats.lock().unwrap_or_else(|e| e.into_inner()));
        }
        s.answers_dropped += self.shared.unrouted.load(Ordering::Relaxed);
        s
    }

    /// Stops and joins the network threads (open connections are closed).
    pub fn shutdown(self) {}

    fn stop_and_join(&mut self) {
        for t in &self.shared.threads {
            t.stop.store(true, Ordering::Release);
            t.pending.store(true, Ordering::Release);
            if let Some(w) = t.wake.get() {
                w.wake();
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A network thread: builds the backend it is told to, reports, then runs it.
fn thread_main<S: Sink>(
    ctx: conn::ThreadCtx,
    listener: std::net::TcpListener,
    mut sink: S,
    commands: mpsc::Receiver<Setup>,
    report: mpsc::Sender<(usize, Result<(), String>)>,
) {
    enum Built {
        None,
        #[cfg(target_os = "linux")]
        Uring(Box<uring::Uring>),
        Fallback(Box<fallback::Fallback>),
    }
    let mut built = Built::None;
    let thread = ctx.thread.clone();
    loop {
        match commands.recv() {
            Ok(Setup::Build(b)) => {
                built = Built::None;
                let r = match b {
                    #[cfg(target_os = "linux")]
                    Backend::IoUring => uring::Uring::new(&ctx, &listener)
                        .map(|u| built = Built::Uring(Box::new(u))),
                    #[cfg(not(target_os = "linux"))]
                    Backend::IoUring => Err("io_uring is Linux-only".to_string()),
                    Backend::Fallback => fallback::Fallback::new(&ctx, &listener)
                        .map(|f| built = Built::Fallback(Box::new(f))),
                };
                if report.send((ctx.index, r)).is_err() {
                    break;
                }
            }
            Ok(Setup::Run) => {
                match built {
                    #[cfg(target_os = "linux")]
                    Built::Uring(u) => u.run(ctx, &mut sink),
                    Built::Fallback(f) => f.run(ctx, &mut sink),
                    Built::None => {}
                }
                break;
            }
            Ok(Setup::Abort) | Err(_) => break,
        }
    }
    thread.alive.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let mut b = 3u32.to_le_bytes().to_vec();
        b.extend_from_slice(b"abcde");
        assert_eq!(split_frame(&b), Ok(Some((&b"abc"[..], 7))));
        assert_eq!(split_frame(&b[..5]), Ok(None));
        let big = ((FRAME_BYTES_MAX + 1) as u32).to_le_bytes();
        assert_eq!(
            split_frame(&big),
            Err(FrameError::TooLarge(FRAME_BYTES_MAX + 1))
        );
    }

    #[test]
    fn answers_round_trip() {
        let mut b = Vec::new();
        encode_answer(7, status::OVERLOADED, b"busy", &mut b);
        encode_answer(u64::MAX, 200, b"", &mut b);
        let (a, n) = decode_answer(&b).unwrap().unwrap();
        assert_eq!((a.seq, a.code, &a.detail[..]), (7, 4, &b"busy"[..]));
        assert_eq!(n, 4 + 9 + 4);
        for cut in 0..b.len() - n {
            assert_eq!(decode_answer(&b[n..n + cut]), Ok(None));
        }
        let (a, m) = decode_answer(&b[n..]).unwrap().unwrap();
        assert_eq!((a.seq, a.code, a.detail.len(), m), (u64::MAX, 200, 0, 13));
        assert_eq!(
            decode_answer(&8u32.to_le_bytes()),
            Err(FrameError::AnswerTooShort(8))
        );
        let mut f = Vec::new();
        encode_frame(b"tx", &mut f);
        assert_eq!(f, [2, 0, 0, 0, b't', b'x']);
    }

    #[test]
    fn conn_id_parts() {
        let id = ConnId::new(255, 0xff_ffff, u32::MAX);
        assert_eq!(
            (id.thread(), id.slot(), id.gen()),
            (255, 0xff_ffff, u32::MAX)
        );
        let id = ConnId::new(3, 17, 9);
        assert_eq!((id.thread(), id.slot(), id.gen()), (3, 17, 9));
    }
}
