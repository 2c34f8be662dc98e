//! What both backends share: a connection's protocol state (frame assembly, seq
//! numbering, in-flight accounting, the write queue, timers), the connection slab and
//! the thread-level plumbing (mailbox, counters, admission).

use crate::{
    encode_answer, status, Config, ConnId, Delivery, ServerShared, Sink, Stats, ThreadShared,
    FRAME_HEADER_BYTES, RECORD_FIXED, SLOTS_MAX,
};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a network thread is handed.
pub(crate) struct ThreadCtx {
    pub(crate) index: usize,
    pub(crate) config: Config,
    pub(crate) thread: Arc<ThreadShared>,
    pub(crate) server: Arc<ServerShared>,
}

/// The per-connection limits, in the units the hot path wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) frame_max: usize,
    pub(crate) in_flight_max: usize,
    pub(crate) write_max: usize,
    pub(crate) idle: Duration,
    pub(crate) frame: Duration,
    /// How long a refused connection is given to take its answer before it is closed.
    pub(crate) linger: Duration,
}

impl Limits {
    pub(crate) fn new(c: &Config) -> Limits {
        Limits {
            frame_max: c.frame_bytes_max as usize,
            in_flight_max: c.in_flight_max as usize,
            write_max: c.write_buffer_bytes_max as usize,
            idle: c.idle_timeout,
            frame: c.frame_timeout,
            linger: c.frame_timeout.min(Duration::from_secs(2)),
        }
    }
}

/// The seqs of frames the sink took and the application has not answered: a bitmap
/// over `[base, base + 64 * words.len())`, one bit per frame. Seqs are handed out in
/// increasing order and answers come back mostly in order, so the map is a few words
/// that advance with the connection: inserting and answering touch one word, with no
/// hashing and no tombstones.
#[derive(Default)]
pub(crate) struct Outstanding {
    /// The seq of the first word's bit 0 (a multiple of 64).
    base: u64,
    words: VecDeque<u64>,
    count: usize,
}

impl Outstanding {
    /// Records `seq`, which must be above every seq recorded before.
    pub(crate) fn insert(&mut self, seq: u64) {
        if self.words.is_empty() {
            self.base = seq & !63;
        }
        debug_assert!(seq >= self.base, "seqs are recorded in increasing order");
        let word = ((seq - self.base) / 64) as usize;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.count += 1;
        }
    }
    /// Forgets `seq`; whether it was recorded.
    pub(crate) fn remove(&mut self, seq: u64) -> bool {
        let Some(offset) = seq.checked_sub(self.base) else {
            return false;
        };
        let Some(w) = self.words.get_mut((offset / 64) as usize) else {
            return false;
        };
        let bit = 1u64 << (seq % 64);
        if *w & bit == 0 {
            return false;
        }
        *w &= !bit;
        self.count -= 1;
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += 64;
        }
        true
    }
    pub(crate) fn len(&self) -> usize {
        self.count
    }
    /// Seqs from the oldest unanswered frame to the newest recorded one (about): the
    /// bitmap's size in bits.
    pub(crate) fn span(&self) -> u64 {
        self.words.len() as u64 * 64
    }
}

/// How far (in frames, as a multiple of `in_flight_max`) the newest frame may run
/// ahead of the oldest unanswered one before new frames are refused as in flight:
/// it bounds the bitmap at `in_flight_max * SPAN_PER_IN_FLIGHT / 8` bytes when one
/// frame is never answered. Answers come back in about arrival order, so an honest
/// client never meets it before `in_flight_max` itself.
const SPAN_PER_IN_FLIGHT: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading frames, writing answers.
    Open,
    /// A framing error was answered: input is discarded, the answers are being
    /// flushed; at the deadline the connection closes even if they are not.
    Draining(Instant),
    /// Flushed and shut down for writing; input is discarded until the peer closes or
    /// the deadline passes.
    Lingering(Instant),
    /// Closing (io_uring: waiting for the kernel to finish with the connection's ops).
    Closed,
}

/// What `ConnCore::tick` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Keep,
    Close,
}

/// A connection's protocol state.
pub(crate) struct ConnCore {
    pub(crate) id: ConnId,
    next_seq: u64,
    /// Frames the sink took and the application has not answered yet.
    outstanding: Outstanding,
    /// The split remainder: a frame (header included) that began in an earlier read.
    partial: Vec<u8>,
    /// When the first byte of the incomplete frame in `partial` arrived.
    frame_start: Option<Instant>,
    /// The last byte received or sent.
    last_activity: Instant,
    /// Answers not yet handed to the socket.
    pending: Vec<u8>,
    /// The bytes of the send in progress (io_uring: owned by the kernel until the send
    /// completes; never touched while a send is in flight).
    sending: Vec<u8>,
    sent: usize,
    pub(crate) phase: Phase,
    /// Must be closed now (write overflow). Counted where it was set.
    pub(crate) doomed: bool,
    /// In the slab's dirty list.
    pub(crate) dirty: bool,
    /// The sink was full: `stash[stash_pos..]` starts with the whole frame it did not
    /// take, followed by everything received since; offered again by `resume`.
    paused: bool,
    stash: Vec<u8>,
    stash_pos: usize,
    /// In the backend's paused list.
    pub(crate) listed_paused: bool,
}

impl ConnCore {
    pub(crate) fn new(id: ConnId, now: Instant) -> ConnCore {
        ConnCore {
            id,
            next_seq: 0,
            outstanding: Outstanding::default(),
            partial: Vec::new(),
            frame_start: None,
            last_activity: now,
            pending: Vec::new(),
            sending: Vec::new(),
            sent: 0,
            phase: Phase::Open,
            doomed: false,
            dirty: false,
            paused: false,
            stash: Vec::new(),
            stash_pos: 0,
            listed_paused: false,
        }
    }

    /// Bytes received. Complete frames are handed to the sink straight from `data`;
    /// only a frame split across reads is copied (into `partial`). While the
    /// connection is paused everything is kept in `stash` for [`ConnCore::resume`].
    pub(crate) fn on_bytes<S: Sink>(
        &mut self,
        data: &[u8],
        now: Instant,
        lim: &Limits,
        sink: &mut S,
        stats: &mut Stats,
    ) {
        stats.bytes_in += data.len() as u64;
        self.last_activity = now;
        if self.phase != Phase::Open || self.doomed {
            return;
        }
        if self.paused {
            self.stash.extend_from_slice(data);
            return;
        }
        if let Some(at) = self.parse(data, now, lim, sink, stats) {
            self.stash.extend_from_slice(&data[at..]);
        }
    }

    /// Whether the sink was full and the connection waits to offer its next frame
    /// again (the backend stops reading the socket meanwhile).
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Offers the kept bytes again; true when the connection is no longer paused.
    /// Costs one sink call while the sink is still full: the kept bytes are not
    /// copied again, only the read position moves.
    pub(crate) fn resume<S: Sink>(
        &mut self,
        now: Instant,
        lim: &Limits,
        sink: &mut S,
        stats: &mut Stats,
    ) -> bool {
        if !self.paused {
            return true;
        }
        self.paused = false;
        if self.phase != Phase::Open || self.doomed {
            self.stash = Vec::new();
            self.stash_pos = 0;
            return true;
        }
        let stash = std::mem::take(&mut self.stash);
        let (frames, pauses) = (stats.frames, stats.pauses);
        let parsed = self.parse(&stash[self.stash_pos..], now, lim, sink, stats);
        if self.paused && stats.frames == frames {
            // Still waiting for the same room: the same pause, not a new one.
            stats.pauses = pauses;
        }
        match parsed {
            Some(at) => {
                self.stash_pos += at;
                self.stash = stash;
            }
            None => {
                self.stash_pos = 0;
                self.stash = stash;
                self.stash.clear();
                // A burst's buffer is not kept around for the connection's lifetime.
                if self.stash.capacity() > 256 * 1024 {
                    self.stash = Vec::new();
                }
            }
        }
        !self.paused
    }

    /// Cuts `data` into frames and delivers them; `partial` is either empty or holds
    /// the start of a frame that `data` continues. When the sink is full, returns the
    /// offset in `data` from which the bytes must be kept (`partial`'s whole frame,
    /// if that was the one refused, is moved to the front of `stash`).
    fn parse<S: Sink>(
        &mut self,
        mut data: &[u8],
        now: Instant,
        lim: &Limits,
        sink: &mut S,
        stats: &mut Stats,
    ) -> Option<usize> {
        let len = data.len();
        if !self.partial.is_empty() {
            if self.partial.len() < FRAME_HEADER_BYTES {
                let take = (FRAME_HEADER_BYTES - self.partial.len()).min(data.len());
                self.partial.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.partial.len() < FRAME_HEADER_BYTES {
                    return None;
                }
                let n = header(&self.partial);
                if !self.check_len(n, now, lim, stats) {
                    self.partial.clear();
                    self.frame_start = None;
                    return None;
                }
                self.partial.reserve_exact(n);
            }
            let whole = FRAME_HEADER_BYTES + header(&self.partial);
            let take = (whole - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() < whole {
                return None;
            }
            let frame = std::mem::take(&mut self.partial);
            self.frame_start = None;
            let taken = self.deliver(&frame[FRAME_HEADER_BYTES..], lim, sink, stats);
            self.partial = frame;
            if !taken {
                // The refused frame leads the kept bytes; the caller adds the rest.
                self.stash.clear();
                self.stash_pos = 0;
                self.stash.extend_from_slice(&self.partial);
                self.partial.clear();
                return Some(len - data.len());
            }
            self.partial.clear();
            // A huge frame's buffer is not kept around for the connection's lifetime.
            if self.partial.capacity() > 64 * 1024 {
                self.partial = Vec::new();
            }
            if self.doomed {
                return None;
            }
        }
        while !data.is_empty() {
            if data.len() < FRAME_HEADER_BYTES {
                self.partial.extend_from_slice(data);
                self.frame_start = Some(now);
                return None;
            }
            let n = header(data);
            if !self.check_len(n, now, lim, stats) {
                return None;
            }
            let whole = FRAME_HEADER_BYTES + n;
            if data.len() < whole {
                self.partial.reserve_exact(whole);
                self.partial.extend_from_slice(data);
                self.frame_start = Some(now);
                return None;
            }
            if !self.deliver(&data[FRAME_HEADER_BYTES..whole], lim, sink, stats) {
                return Some(len - data.len());
            }
            if self.doomed {
                return None;
            }
            data = &data[whole..];
        }
        None
    }

    /// A frame length from a header; false (and the refusal answered) when bad.
    fn check_len(&mut self, n: usize, now: Instant, lim: &Limits, stats: &mut Stats) -> bool {
        if n == 0 {
            stats.malformed += 1;
            self.refuse(
                status::MALFORMED_FRAME,
                "zero-length frame".to_string(),
                now,
                lim,
                stats,
            );
            false
        } else if n > lim.frame_max {
            stats.too_large += 1;
            let why = format!(
                "frame length {n} exceeds the limit of {} bytes",
                lim.frame_max
            );
            self.refuse(status::TOO_LARGE, why, now, lim, stats);
            false
        } else {
            true
        }
    }

    /// Answers a framing error and starts draining: nothing more is read from this
    /// connection, and it closes once the answer is flushed.
    fn refuse(&mut self, code: u8, why: String, now: Instant, lim: &Limits, stats: &mut Stats) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue(seq, code, why.as_bytes(), lim, stats);
        self.phase = Phase::Draining(now + lim.linger);
        self.frame_start = None;
        self.partial = Vec::new();
    }

    /// Hands one frame to the sink; false when the sink was full (the connection is
    /// now paused and the frame was not numbered).
    fn deliver<S: Sink>(
        &mut self,
        frame: &[u8],
        lim: &Limits,
        sink: &mut S,
        stats: &mut Stats,
    ) -> bool {
        let seq = self.next_seq;
        if self.outstanding.len() >= lim.in_flight_max
            || self.outstanding.span() >= lim.in_flight_max as u64 * SPAN_PER_IN_FLIGHT
        {
            self.next_seq += 1;
            stats.frames += 1;
            stats.in_flight_limited += 1;
            self.queue(
                seq,
                status::IN_FLIGHT_LIMIT,
                b"too many unanswered frames",
                lim,
                stats,
            );
            return true;
        }
        match sink.on_frame(self.id, seq, frame) {
            Delivery::Taken => {
                self.outstanding.insert(seq);
            }
            Delivery::Refused(code) => {
                stats.sink_refused += 1;
                self.queue(seq, code, b"", lim, stats);
            }
            Delivery::Full => {
                stats.pauses += 1;
                self.paused = true;
                // The wait is the server's, not the client's: no slow-drip timer runs.
                self.frame_start = None;
                return false;
            }
        }
        self.next_seq += 1;
        stats.frames += 1;
        true
    }

    /// An answer from the application. Dropped (and counted) unless the connection is
    /// still writing and a frame with this seq awaits its answer.
    pub(crate) fn app_answer(
        &mut self,
        seq: u64,
        code: u8,
        detail: &[u8],
        lim: &Limits,
        stats: &mut Stats,
    ) {
        let writing = matches!(self.phase, Phase::Open | Phase::Draining(_)) && !self.doomed;
        if !writing || !self.outstanding.remove(seq) {
            stats.answers_dropped += 1;
            return;
        }
        self.queue(seq, code, detail, lim, stats);
    }

    fn queue(&mut self, seq: u64, code: u8, detail: &[u8], lim: &Limits, stats: &mut Stats) {
        encode_answer(seq, code, detail, &mut self.pending);
        stats.answers_sent += 1;
        if self.unsent() > lim.write_max {
            stats.write_overflows += 1;
            self.doomed = true;
            self.pending = Vec::new();
        }
    }

    fn unsent(&self) -> usize {
        self.pending.len() + self.sending.len() - self.sent
    }

    pub(crate) fn has_output(&self) -> bool {
        self.unsent() > 0
    }

    /// The bytes to send next (call only when no send is in flight), or None.
    pub(crate) fn next_send(&mut self) -> Option<&[u8]> {
        if self.sent >= self.sending.len() {
            self.sending.clear();
            self.sent = 0;
            std::mem::swap(&mut self.sending, &mut self.pending);
            // Keep big buffers from lingering after a burst.
            if self.pending.capacity() > 256 * 1024 {
                self.pending = Vec::new();
            }
        }
        if self.sending.is_empty() {
            None
        } else {
            Some(&self.sending[self.sent..])
        }
    }

    /// `n` bytes of `next_send`'s slice went out.
    pub(crate) fn on_sent(&mut self, n: usize, now: Instant) {
        self.sent = (self.sent + n).min(self.sending.len());
        self.last_activity = now;
    }

    /// Draining and everything is sent: time to shut down writing and linger.
    pub(crate) fn drained(&self) -> bool {
        matches!(self.phase, Phase::Draining(_)) && !self.has_output()
    }

    pub(crate) fn start_linger(&mut self, now: Instant, lim: &Limits) {
        self.phase = Phase::Lingering(now + lim.linger);
    }

    /// Timeouts; counts what it closes for.
    pub(crate) fn tick(&mut self, now: Instant, lim: &Limits, stats: &mut Stats) -> Verdict {
        match self.phase {
            Phase::Open => {
                if let Some(t) = self.frame_start {
                    if now.saturating_duration_since(t) >= lim.frame {
                        stats.frame_timeouts += 1;
                        return Verdict::Close;
                    }
                }
                // A paused connection waits on the server, not the other way round.
                if !self.paused && now.saturating_duration_since(self.last_activity) >= lim.idle {
                    stats.idle_timeouts += 1;
                    return Verdict::Close;
                }
                Verdict::Keep
            }
            Phase::Draining(deadline) | Phase::Lingering(deadline) => {
                if now >= deadline {
                    Verdict::Close
                } else {
                    Verdict::Keep
                }
            }
            Phase::Closed => Verdict::Keep,
        }
    }
}

fn header(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

pub(crate) struct Conn<T> {
    pub(crate) core: ConnCore,
    pub(crate) io: T,
}

struct Slot<T> {
    gen: u32,
    conn: Option<Conn<T>>,
}

/// Connection slots; a slot's generation changes when its connection is removed.
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    /// Slots with output to send (deduplicated by `ConnCore::dirty`).
    pub(crate) dirty: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The number of slots ever used (iterate `0..capacity()` with `get_mut`).
    pub(crate) fn capacity(&self) -> u32 {
        self.slots.len() as u32
    }

    /// A free slot for a connection on `thread`; None when the slab is full.
    pub(crate) fn insert(&mut self, thread: usize, now: Instant, io: T) -> Option<(u32, ConnId)> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                if self.slots.len() as u32 >= SLOTS_MAX {
                    return None;
                }
                self.slots.push(Slot { gen: 0, conn: None });
                self.slots.len() as u32 - 1
            }
        };
        let s = &mut self.slots[slot as usize];
        let id = ConnId::new(thread, slot, s.gen);
        s.conn = Some(Conn {
            core: ConnCore::new(id, now),
            io,
        });
        self.len += 1;
        Some((slot, id))
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Conn<T>> {
        self.slots.get_mut(slot as usize)?.conn.as_mut()
    }

    /// The connection `slot` holds if it is still generation `gen`.
    pub(crate) fn get_gen(&mut self, slot: u32, gen: u32) -> Option<&mut Conn<T>> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.gen != gen {
            return None;
        }
        s.conn.as_mut()
    }

    pub(crate) fn remove(&mut self, slot: u32) -> Option<Conn<T>> {
        let s = self.slots.get_mut(slot as usize)?;
        let c = s.conn.take()?;
        s.gen = s.gen.wrapping_add(1);
        self.free.push(slot);
        self.len -= 1;
        Some(c)
    }

    /// Puts `slot` on the dirty list if it has output.
    pub(crate) fn touch(&mut self, slot: u32) {
        if let Some(c) = self.get_mut(slot) {
            if !c.core.dirty && (c.core.has_output() || c.core.drained()) {
                c.core.dirty = true;
                self.dirty.push(slot);
            }
        }
    }
}

/// A thread's plumbing common to both backends.
pub(crate) struct Base {
    pub(crate) index: usize,
    pub(crate) lim: Limits,
    pub(crate) tick: Duration,
    pub(crate) stats: Stats,
    pub(crate) thread: Arc<ThreadShared>,
    pub(crate) server: Arc<ServerShared>,
    connections_max: u32,
    mail: Vec<u8>,
    frames_at_batch: u64,
}

impl Base {
    pub(crate) fn new(ctx: ThreadCtx) -> Base {
        Base {
            index: ctx.index,
            lim: Limits::new(&ctx.config),
            tick: ctx.config.tick(),
            stats: Stats::default(),
            thread: ctx.thread,
            server: ctx.server,
            connections_max: ctx.config.connections_max,
            mail: Vec::new(),
            frames_at_batch: 0,
        }
    }

    /// A new connection arrived: true = admit it (counted as accepted and live),
    /// false = over `connections_max` (counted as refused; close it at once).
    pub(crate) fn admit(&mut self) -> bool {
        let live = &self.server.live;
        if live.fetch_add(1, Ordering::AcqRel) >= self.connections_max {
            live.fetch_sub(1, Ordering::AcqRel);
            self.stats.connections_refused += 1;
            false
        } else {
            self.stats.connections_accepted += 1;
            true
        }
    }

    /// An admitted connection is gone (slot freed).
    pub(crate) fn release(&mut self) {
        self.server.live.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn stopping(&self) -> bool {
        self.thread.stop.load(Ordering::Acquire)
    }

    /// Calls the sink's `end_of_batch` if frames arrived since the last call.
    pub(crate) fn end_of_batch<S: Sink>(&mut self, sink: &mut S) {
        if self.stats.frames != self.frames_at_batch {
            self.frames_at_batch = self.stats.frames;
            sink.end_of_batch();
        }
    }

    /// Offers each paused connection's kept frames to the sink again and returns the
    /// slots that resumed (the backend closes a doomed one, else reads it again).
    /// A connection that got some frames in and paused again goes to the back of the
    /// line, so paused connections take turns rather than the first one taking the
    /// room every time. `gone` says which connections are closing.
    pub(crate) fn resume_paused<T, S: Sink>(
        &mut self,
        slab: &mut Slab<T>,
        paused: &mut Vec<u32>,
        now: Instant,
        sink: &mut S,
        gone: impl Fn(&T) -> bool,
    ) -> Vec<u32> {
        let mut resumed = Vec::new();
        let mut still = Vec::with_capacity(paused.len());
        let mut served = Vec::new();
        for slot in paused.drain(..) {
            let Some(c) = slab.get_mut(slot) else {
                continue;
            };
            if gone(&c.io) {
                c.core.listed_paused = false;
                continue;
            }
            let frames = self.stats.frames;
            if c.core.resume(now, &self.lim, sink, &mut self.stats) {
                c.core.listed_paused = false;
                resumed.push(slot);
            } else if self.stats.frames != frames {
                served.push(slot);
            } else {
                still.push(slot);
            }
        }
        still.append(&mut served);
        *paused = still;
        resumed
    }

    /// Delivers the responder's answers to their connections.
    pub(crate) fn deliver_mail<T>(&mut self, slab: &mut Slab<T>) {
        if !self.thread.take_mail(&mut self.mail) {
            return;
        }
        let mail = std::mem::take(&mut self.mail);
        let mut p = 0;
        while p + RECORD_FIXED <= mail.len() {
            let r = &mail[p..];
            let conn = ConnId(u64::from_le_bytes(r[0..8].try_into().unwrap_or_default()));
            let seq = u64::from_le_bytes(r[8..16].try_into().unwrap_or_default());
            let code = r[16];
            let d = u32::from_le_bytes([r[17], r[18], r[19], r[20]]) as usize;
            let end = (RECORD_FIXED + d).min(r.len());
            let detail = &r[RECORD_FIXED..end];
            p += RECORD_FIXED + d;
            let slot = conn.slot();
            match slab.get_gen(slot, conn.gen()) {
                Some(c) if conn.thread() == self.index => {
                    c.core
                        .app_answer(seq, code, detail, &self.lim, &mut self.stats);
                    slab.touch(slot);
                }
                _ => self.stats.answers_dropped += 1,
            }
        }
        self.mail = mail;
    }

    /// At exit: answers still in the mailbox can no longer be delivered.
    pub(crate) fn drop_remaining_mail(&mut self) {
        self.thread.pending.store(true, Ordering::Release);
        if self.thread.take_mail(&mut self.mail) {
            let mut p = 0;
            while p + RECORD_FIXED <= self.mail.len() {
                let r = &self.mail[p..];
                p += RECORD_FIXED + u32::from_le_bytes([r[17], r[18], r[19], r[20]]) as usize;
                self.stats.answers_dropped += 1;
            }
        }
    }

    pub(crate) fn publish(&self) {
        self.thread.publish(&self.stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_answer, encode_frame};

    /// The bitmap against a set, answering in a scrambled order with repeats and seqs
    /// never recorded; it shrinks back to nothing once every frame is answered.
    #[test]
    fn outstanding_agrees_with_a_set() {
        let mut o = Outstanding::default();
        let mut model = std::collections::BTreeSet::new();
        let mut next = 5u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if !x.is_multiple_of(3) || model.is_empty() {
                // Some seqs are skipped (frames refused, never recorded).
                next += 1 + (x >> 40) % 2;
                o.insert(next);
                model.insert(next);
            } else {
                let back = (x >> 20) % 200;
                let seq = next.saturating_sub(back);
                assert_eq!(o.remove(seq), model.remove(&seq), "round {round} seq {seq}");
            }
            assert_eq!(o.len(), model.len());
            if let Some(first) = model.first() {
                assert!(
                    o.span() >= next - first,
                    "the span covers every recorded seq"
                );
            }
        }
        for seq in std::mem::take(&mut model) {
            assert!(o.remove(seq));
            assert!(!o.remove(seq), "answered twice");
        }
        assert_eq!((o.len(), o.span()), (0, 0));
        assert!(!o.remove(3) && !o.remove(u64::MAX));
    }

    struct Collect(Vec<(u64, Vec<u8>)>, bool);
    impl Sink for Collect {
        fn on_frame(&mut self, _: ConnId, seq: u64, frame: &[u8]) -> Delivery {
            if self.1 {
                return Delivery::Refused(status::OVERLOADED);
            }
            self.0.push((seq, frame.to_vec()));
            Delivery::Taken
        }
    }

    /// Takes at most `room` frames, then answers `Full` until more room is given.
    struct Bounded {
        got: Vec<(u64, Vec<u8>)>,
        room: usize,
    }
    impl Sink for Bounded {
        fn on_frame(&mut self, _: ConnId, seq: u64, frame: &[u8]) -> Delivery {
            if self.room == 0 {
                return Delivery::Full;
            }
            self.room -= 1;
            self.got.push((seq, frame.to_vec()));
            Delivery::Taken
        }
    }

    #[test]
    fn a_full_sink_pauses_and_nothing_is_lost() {
        // 40 frames of varied sizes, fed in chunks of every size, with the sink taking
        // 3 frames at a time: every frame arrives once, in order, with consecutive seqs.
        let mut bytes = Vec::new();
        let frames: Vec<Vec<u8>> = (0..40u8)
            .map(|i| vec![i; 1 + (i as usize * 7) % 50])
            .collect();
        for f in &frames {
            encode_frame(f, &mut bytes);
        }
        let lim = Limits::new(&Config {
            frame_bytes_max: 100,
            in_flight_max: 1000,
            ..Config::default()
        });
        for chunk in [1, 2, 3, 5, 13, 64, 200, bytes.len()] {
            let mut core = ConnCore::new(ConnId(0), Instant::now());
            let mut sink = Bounded {
                got: Vec::new(),
                room: 3,
            };
            let mut stats = Stats::default();
            for c in bytes.chunks(chunk) {
                core.on_bytes(c, Instant::now(), &lim, &mut sink, &mut stats);
                while core.is_paused() {
                    assert_eq!(
                        core.tick(Instant::now() + lim.idle, &lim, &mut stats),
                        Verdict::Keep,
                        "a paused connection is not idle"
                    );
                    sink.room = 3;
                    core.resume(Instant::now(), &lim, &mut sink, &mut stats);
                }
            }
            assert_eq!(sink.got.len(), 40, "chunk {chunk}");
            for (i, (seq, f)) in sink.got.iter().enumerate() {
                assert_eq!(*seq, i as u64);
                assert_eq!(f, &frames[i]);
            }
            assert_eq!(stats.frames, 40);
            assert!(stats.pauses > 0);
            assert_eq!(stats.bytes_in, bytes.len() as u64);
        }
    }

    #[test]
    fn bytes_that_arrive_while_paused_are_kept() {
        let lim = Limits::new(&Config {
            frame_bytes_max: 100,
            ..Config::default()
        });
        let mut stats = Stats::default();
        let mut sink = Bounded {
            got: Vec::new(),
            room: 0,
        };
        let mut core = ConnCore::new(ConnId(0), Instant::now());
        let mut b = Vec::new();
        for i in 0..5u8 {
            encode_frame(&[i; 10], &mut b);
        }
        core.on_bytes(&b[..20], Instant::now(), &lim, &mut sink, &mut stats);
        assert!(core.is_paused());
        core.on_bytes(&b[20..], Instant::now(), &lim, &mut sink, &mut stats);
        assert!(!core.resume(Instant::now(), &lim, &mut sink, &mut stats));
        assert_eq!(stats.pauses, 1, "a fruitless retry is the same pause");
        sink.room = 2;
        assert!(!core.resume(Instant::now(), &lim, &mut sink, &mut stats));
        assert_eq!(stats.pauses, 2, "served, then full again: a new pause");
        sink.room = 100;
        assert!(core.resume(Instant::now(), &lim, &mut sink, &mut stats));
        let seqs: Vec<u64> = sink.got.iter().map(|g| g.0).collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
        assert_eq!(sink.got[4].1, vec![4u8; 10]);
        // A bad header behind a paused frame is still refused once it is reached.
        let mut core = ConnCore::new(ConnId(0), Instant::now());
        sink.room = 0;
        let mut b = Vec::new();
        encode_frame(b"ok", &mut b);
        b.extend_from_slice(&0u32.to_le_bytes());
        core.on_bytes(&b, Instant::now(), &lim, &mut sink, &mut stats);
        assert_eq!(stats.malformed, 0);
        sink.room = 1;
        core.resume(Instant::now(), &lim, &mut sink, &mut stats);
        assert_eq!(stats.malformed, 1);
        assert!(matches!(core.phase, Phase::Draining(_)));
    }

    fn lim() -> Limits {
        Limits::new(&Config {
            frame_bytes_max: 100,
            in_flight_max: 3,
            write_buffer_bytes_max: 1000,
            ..Config::default()
        })
    }

    fn answers(core: &mut ConnCore) -> Vec<crate::client::Answer> {
        let mut out = Vec::new();
        while let Some(s) = core.next_send() {
            out.extend_from_slice(s);
            let n = s.len();
            core.on_sent(n, Instant::now());
        }
        let mut v = Vec::new();
        let mut p = 0;
        while let Ok(Some((a, n))) = decode_answer(&out[p..]) {
            v.push(a);
            p += n;
        }
        v
    }

    #[test]
    fn split_at_every_byte() {
        let mut bytes = Vec::new();
        for i in 0..5u8 {
            encode_frame(&vec![i; 1 + i as usize * 20], &mut bytes);
        }
        let lim = lim();
        for chunk in 1..bytes.len() {
            let mut core = ConnCore::new(ConnId(0), Instant::now());
            let mut sink = Collect(Vec::new(), false);
            let mut stats = Stats::default();
            for c in bytes.chunks(chunk) {
                core.on_bytes(c, Instant::now(), &lim, &mut sink, &mut stats);
            }
            assert_eq!(sink.0.len(), 3, "in-flight cap is 3");
            for (i, (seq, f)) in sink.0.iter().enumerate() {
                assert_eq!(*seq, i as u64);
                assert_eq!(f, &vec![i as u8; 1 + i * 20]);
            }
            assert_eq!(stats.frames, 5);
            assert_eq!(stats.in_flight_limited, 2);
            let a = answers(&mut core);
            assert_eq!(
                a.iter().map(|a| (a.seq, a.code)).collect::<Vec<_>>(),
                vec![(3, 3), (4, 3)]
            );
            core.app_answer(1, 0, b"ok", &lim, &mut stats);
            core.app_answer(1, 0, b"again", &lim, &mut stats);
            core.app_answer(9, 0, b"never", &lim, &mut stats);
            assert_eq!(stats.answers_dropped, 2);
            assert_eq!(answers(&mut core)[0].detail, b"ok");
        }
    }

    #[test]
    fn bad_headers() {
        let lim = lim();
        let mut stats = Stats::default();
        let mut sink = Collect(Vec::new(), false);
        let mut core = ConnCore::new(ConnId(0), Instant::now());
        let mut b = Vec::new();
        encode_frame(b"x", &mut b);
        b.extend_from_slice(&101u32.to_le_bytes());
        b.extend_from_slice(b"junk");
        core.on_bytes(&b[..6], Instant::now(), &lim, &mut sink, &mut stats);
        core.on_bytes(&b[6..], Instant::now(), &lim, &mut sink, &mut stats);
        assert_eq!(stats.too_large, 1);
        assert!(matches!(core.phase, Phase::Draining(_)));
        let a = answers(&mut core);
        assert_eq!((a[0].seq, a[0].code), (1, status::TOO_LARGE));
        assert!(core.drained());
        core.on_bytes(
            &0u32.to_le_bytes(),
            Instant::now(),
            &lim,
            &mut sink,
            &mut stats,
        );
        assert_eq!(
            stats.malformed, 0,
            "nothing is parsed after a framing error"
        );

        let mut core = ConnCore::new(ConnId(0), Instant::now());
        core.on_bytes(&[0, 0], Instant::now(), &lim, &mut sink, &mut stats);
        core.on_bytes(&[0, 0, 7], Instant::now(), &lim, &mut sink, &mut stats);
        assert_eq!(stats.malformed, 1);
        assert_eq!(answers(&mut core)[0].code, status::MALFORMED_FRAME);
    }

    #[test]
    fn refusal_and_overflow() {
        let lim = lim();
        let mut stats = Stats::default();
        let mut sink = Collect(Vec::new(), true);
        let mut core = ConnCore::new(ConnId(0), Instant::now());
        let mut b = Vec::new();
        for _ in 0..200 {
            encode_frame(b"abc", &mut b);
        }
        core.on_bytes(&b, Instant::now(), &lim, &mut sink, &mut stats);
        assert!(core.doomed);
        assert_eq!(stats.write_overflows, 1);
        assert!(stats.sink_refused < 200, "stops at the overflow");
    }

    #[test]
    fn timers() {
        let lim = lim();
        let mut stats = Stats::default();
        let mut sink = Collect(Vec::new(), false);
        let t0 = Instant::now();
        let mut core = ConnCore::new(ConnId(0), t0);
        core.on_bytes(&[5, 0], t0, &lim, &mut sink, &mut stats);
        assert_eq!(
            core.tick(t0 + lim.frame / 2, &lim, &mut stats),
            Verdict::Keep
        );
        assert_eq!(core.tick(t0 + lim.frame, &lim, &mut stats), Verdict::Close);
        assert_eq!(stats.frame_timeouts, 1);
        let mut core = ConnCore::new(ConnId(0), t0);
        assert_eq!(core.tick(t0 + lim.idle, &lim, &mut stats), Verdict::Close);
        assert_eq!(stats.idle_timeouts, 1);
    }
}
