//! The io_uring backend: one ring per thread; multishot accept; multishot recv into a
//! provided-buffer ring; one send in flight per connection; a timeout op for the
//! periodic tick; an eventfd read for responder wake-ups.

use crate::conn::{Base, Slab, ThreadCtx, Verdict};
use crate::{Sink, Wake};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The provided-buffer group id (one group per ring).
const BGID: u16 = 0;

const K_ACCEPT: u64 = 1;
const K_RECV: u64 = 2;
const K_SEND: u64 = 3;
const K_EVENT: u64 = 4;
const K_TIMER: u64 = 5;
const K_CANCEL: u64 = 6;

fn ud(kind: u64, slot: u32, gen: u32) -> u64 {
    (kind << 56) | ((slot as u64 & 0xff_ffff) << 32) | gen as u64
}

fn ud_parts(u: u64) -> (u64, u32, u32) {
    (u >> 56, ((u >> 32) & 0xff_ffff) as u32, u as u32)
}

fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: uname fills a zeroed utsname; release is NUL-terminated.
    let release = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return None;
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Checks that io_uring works here and has what this backend uses.
pub(crate) fn probe() -> Result<(), String> {
    if let Some((major, minor)) = kernel_version() {
        if (major, minor) < (6, 0) {
            return Err(format!(
                "kernel {major}.{minor} lacks multishot recv with provided buffers (needs 6.0)"
            ));
        }
    }
    let ring = IoUring::new(8).map_err(|e| format!("io_uring_setup failed: {e}"))?;
    let mut p = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut p)
        .map_err(|e| format!("io_uring probe failed: {e}"))?;
    for (code, name) in [
        (opcode::AcceptMulti::CODE, "ACCEPT"),
        (opcode::RecvMulti::CODE, "RECV"),
        (opcode::Send::CODE, "SEND"),
        (opcode::Read::CODE, "READ"),
        (opcode::Timeout::CODE, "TIMEOUT"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    ] {
        if !p.is_supported(code) {
            return Err(format!("io_uring lacks opcode IORING_OP_{name}"));
        }
    }
    Ok(())
}

/// Anonymous page-aligned memory.
struct Mmap {
    ptr: *mut u8,
    len: usize,
}

impl Mmap {
    fn new(len: usize) -> io::Result<Mmap> {
        // SAFETY: an anonymous private mapping; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// The provided-buffer ring: `entries` buffers of `buf_bytes`, handed to the kernel
/// through a registered `io_uring_buf_ring`. A buffer is returned to the ring as soon
/// as the bytes the kernel put in it have been consumed (a split frame's remainder is
/// copied out first).
struct BufRing {
    ring: Mmap,
    data: Mmap,
    entries: u16,
    buf_bytes: u32,
    tail: u16,
}

impl BufRing {
    fn new(entries: u16, buf_bytes: u32) -> io::Result<BufRing> {
        let ring_bytes = (entries as usize * std::mem::size_of::<types::BufRingEntry>()).max(4096);
        let data_bytes = entries as usize * buf_bytes as usize;
        let mut b = BufRing {
            ring: Mmap::new(ring_bytes)?,
            data: Mmap::new(data_bytes)?,
            entries,
            buf_bytes,
            tail: 0,
        };
        for bid in 0..entries {
            b.stage(bid);
        }
        b.publish();
        Ok(b)
    }

    fn base(&self) -> *mut types::BufRingEntry {
        self.ring.ptr.cast()
    }

    /// Writes buffer `bid` into the next ring entry (not yet visible to the kernel).
    fn stage(&mut self, bid: u16) {
        let idx = (self.tail & (self.entries - 1)) as usize;
        // SAFETY: idx < entries, and the ring mapping holds `entries` entries. The kernel
        // only reads entries between its head and our published tail; this one is past
        // the tail until `publish`.
        unsafe {
            let e = &mut *self.base().add(idx);
            e.set_addr(self.data.ptr.add(bid as usize * self.buf_bytes as usize) as u64);
            e.set_len(self.buf_bytes);
            e.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail is a u16 inside the first entry of our mapping, which the
        // kernel reads with acquire semantics; we store it with release.
        unsafe {
            let tail = types::BufRingEntry::tail(self.base()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// Gives buffer `bid` back to the kernel.
    fn recycle(&mut self, bid: u16) {
        if bid < self.entries {
            self.stage(bid);
            self.publish();
        }
    }

    /// The first `len` bytes of buffer `bid`.
    fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        if bid >= self.entries {
            return &[];
        }
        let len = len.min(self.buf_bytes as usize);
        // SAFETY: inside the data mapping; the kernel wrote these bytes before posting
        // the completion, and the buffer is not in the ring until we recycle it.
        unsafe {
            std::slice::from_raw_parts(
                self.data.ptr.add(bid as usize * self.buf_bytes as usize),
                len,
            )
        }
    }
}

/// A connection's io_uring side.
struct Io {
    fd: RawFd,
    recv_armed: bool,
    /// A cancel of the armed recv was sent (a pause).
    cancel_sent: bool,
    send_in_flight: bool,
    /// Shut down and cancelled; the slot is freed when no op is left in the kernel.
    closing: bool,
}

/// A thread's io_uring state, built (and checked) before the thread is told to run.
/// Field order matters for drop: the ring goes before the memory it references.
pub(crate) struct Uring {
    ring: IoUring,
    bufs: BufRing,
    eventfd: Option<OwnedFd>,
    eventfd_raw: RawFd,
    event_buf: Box<u64>,
    timespec: Box<types::Timespec>,
    resume_timespec: types::Timespec,
    listen_fd: RawFd,
}

fn build_ring(c: &crate::Config) -> io::Result<IoUring> {
    let entries = c.ring_entries.clamp(8, 32768);
    let cq = entries.saturating_mul(4);
    let mut b = IoUring::builder();
    b.setup_cqsize(cq).setup_clamp();
    if c.sqpoll {
        b.setup_sqpoll(c.sqpoll_idle_ms);
        b.setup_single_issuer();
    } else {
        b.setup_coop_taskrun()
            .setup_single_issuer()
            .setup_defer_taskrun();
    }
    match b.build(entries) {
        Ok(r) => Ok(r),
        // Older kernels lack some flags: retry with the plain ring.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let mut b = IoUring::builder();
            b.setup_cqsize(cq).setup_clamp();
            if c.sqpoll {
                b.setup_sqpoll(c.sqpoll_idle_ms);
            }
            b.build(entries)
        }
        Err(e) => Err(e),
    }
}

impl Uring {
    pub(crate) fn new(ctx: &ThreadCtx, listener: &std::net::TcpListener) -> Result<Uring, String> {
        let c = &ctx.config;
        let ring = build_ring(c).map_err(|e| format!("io_uring_setup failed: {e}"))?;
        let bufs = BufRing::new(c.buffer_count, c.buffer_bytes).map_err(|e| {
            format!(
                "provided buffers ({} x {} bytes): {e}",
                c.buffer_count, c.buffer_bytes
            )
        })?;
        // SAFETY: the ring memory lives in `bufs`, which is dropped after `ring`.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.ring.ptr as u64, bufs.entries, BGID, 0)
                .map_err(|e| format!("registering the provided-buffer ring: {e}"))?;
        }
        // A blocking eventfd: io_uring polls it for us (a non-blocking one would make
        // the read op fail with EAGAIN instead of waiting).
        // SAFETY: plain eventfd(2), owned right away.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(format!("eventfd: {}", io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a fresh fd nobody else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        let tick = c.tick();
        Ok(Uring {
            ring,
            bufs,
            eventfd_raw: eventfd.as_raw_fd(),
            eventfd: Some(eventfd),
            event_buf: Box::new(0),
            timespec: Box::new(
                types::Timespec::new()
                    .sec(tick.as_secs())
                    .nsec(tick.subsec_nanos()),
            ),
            resume_timespec: types::Timespec::new().nsec(crate::RESUME_POLL.as_nanos() as u32),
            listen_fd: listener.as_raw_fd(),
        })
    }

    pub(crate) fn run<S: Sink>(mut self, ctx: ThreadCtx, sink: &mut S) {
        let base = Base::new(ctx);
        if let Some(fd) = self.eventfd.take() {
            let _ = base.thread.wake.set(Wake::EventFd(fd));
        }
        let mut l = Loop {
            u: self,
            base,
            slab: Slab::new(),
            backlog: VecDeque::new(),
            cqes: Vec::with_capacity(1024),
            paused: Vec::new(),
            accept_armed: false,
            accept_retry: false,
            event_armed: false,
            event_retry: false,
            now: Instant::now(),
        };
        l.run(sink);
        let Loop { u, slab, .. } = l;
        // The ring goes first (its close cancels whatever is left), then the buffers
        // that in-flight ops might reference.
        let Uring {
            ring,
            bufs,
            event_buf,
            timespec,
            ..
        } = u;
        drop(ring);
        drop(slab);
        drop(bufs);
        drop(event_buf);
        drop(timespec);
    }
}

struct Loop {
    u: Uring,
    base: Base,
    slab: Slab<Io>,
    /// Entries that did not fit in the submission queue yet (kept in order).
    backlog: VecDeque<squeue::Entry>,
    cqes: Vec<cqueue::Entry>,
    /// Connections waiting for the sink to have room (see `pause`).
    paused: Vec<u32>,
    accept_armed: bool,
    accept_retry: bool,
    event_armed: bool,
    event_retry: bool,
    now: Instant,
}

impl Loop {
    fn push(&mut self, e: squeue::Entry) {
        if self.backlog.is_empty() {
            // SAFETY: every entry we build points at memory that outlives its
            // completion (connection buffers stay until the CQE; the rest lives in
            // `Uring`).
            if unsafe { self.u.ring.submission().push(&e) }.is_ok() {
                return;
            }
        }
        self.backlog.push_back(e);
    }

    fn move_backlog(&mut self) {
        let mut sq = self.u.ring.submission();
        while let Some(e) = self.backlog.front() {
            // SAFETY: as in `push`.
            if unsafe { sq.push(e) }.is_err() {
                break;
            }
            self.backlog.pop_front();
        }
    }

    fn arm_accept(&mut self) {
        let e = opcode::AcceptMulti::new(types::Fd(self.u.listen_fd))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud(K_ACCEPT, 0, 0));
        self.push(e);
        self.accept_armed = true;
    }

    fn arm_event(&mut self) {
        let e = opcode::Read::new(
            types::Fd(self.u.eventfd_raw),
            (&mut *self.u.event_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(ud(K_EVENT, 0, 0));
        self.push(e);
        self.event_armed = true;
    }

    fn arm_timer(&mut self) {
        let e = opcode::Timeout::new(&*self.u.timespec as *const types::Timespec)
            .build()
            .user_data(ud(K_TIMER, 0, 0));
        self.push(e);
    }

    fn arm_recv(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if c.io.recv_armed || c.io.closing {
            return;
        }
        c.io.recv_armed = true;
        c.io.cancel_sent = false;
        let e = opcode::RecvMulti::new(types::Fd(c.io.fd), BGID)
            .build()
            .user_data(ud(K_RECV, slot, c.core.id.gen()));
        self.push(e);
    }

    /// Starts the next send if none is in flight; shuts down writing once a refused
    /// connection has flushed its answer.
    fn try_send(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if c.io.send_in_flight || c.io.closing {
            return;
        }
        let fd = c.io.fd;
        let gen = c.core.id.gen();
        if let Some(buf) = c.core.next_send() {
            let len = buf.len().min(1 << 30) as u32;
            let e = opcode::Send::new(types::Fd(fd), buf.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(ud(K_SEND, slot, gen));
            c.io.send_in_flight = true;
            self.push(e);
        } else if c.core.drained() {
            // SAFETY: shutdown(2) on the connection's own fd.
            unsafe {
                libc::shutdown(fd, libc::SHUT_WR);
            }
            c.core.start_linger(self.now, &self.base.lim);
        }
    }

    /// Shuts the connection down and cancels its recv; the slot is freed when the
    /// kernel has finished with its ops (see `finish`).
    fn close(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if c.io.closing {
            return;
        }
        c.io.closing = true;
        c.core.phase = crate::conn::Phase::Closed;
        self.base.stats.connections_closed += 1;
        // SAFETY: shutdown(2) on the connection's own fd (still open).
        unsafe {
            libc::shutdown(c.io.fd, libc::SHUT_RDWR);
        }
        self.cancel_recv(slot);
        self.finish(slot);
    }

    /// Cancels `slot`'s multishot recv if one is armed and no cancel is on its way; the
    /// recv's last completion (`ECANCELED`) then clears `recv_armed`.
    fn cancel_recv(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if c.io.recv_armed && !c.io.cancel_sent {
            c.io.cancel_sent = true;
            let target = ud(K_RECV, slot, c.core.id.gen());
            self.push(
                opcode::AsyncCancel::new(target)
                    .build()
                    .user_data(ud(K_CANCEL, 0, 0)),
            );
        }
    }

    fn finish(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if c.io.closing && !c.io.recv_armed && !c.io.send_in_flight {
            if let Some(c) = self.slab.remove(slot) {
                // SAFETY: no op references the fd any more; we own it.
                unsafe {
                    libc::close(c.io.fd);
                }
                self.base.release();
            }
        }
    }

    fn on_accept(&mut self, res: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.accept_armed = false;
            if res < 0 && res != -libc::ECANCELED {
                // Out of fds and the like: retry at the next tick, not in a hot loop.
                self.accept_retry = true;
            }
        }
        if res < 0 {
            return;
        }
        let fd = res;
        let refuse = |fd: RawFd| {
            // SAFETY: a fresh fd from accept that nothing else references.
            unsafe {
                libc::close(fd);
            }
        };
        if self.base.stopping() || !self.base.admit() {
            refuse(fd);
            return;
        }
        let io = Io {
            fd,
            recv_armed: false,
            cancel_sent: false,
            send_in_flight: false,
            closing: false,
        };
        match self.slab.insert(self.base.index, self.now, io) {
            Some((slot, _)) => {
                crate::listen::set_nodelay(fd);
                self.arm_recv(slot);
            }
            None => {
                refuse(fd);
                self.base.stats.connections_accepted -= 1;
                self.base.stats.connections_refused += 1;
                self.base.release();
            }
        }
    }

    fn on_recv<S: Sink>(&mut self, slot: u32, gen: u32, res: i32, flags: u32, sink: &mut S) {
        let bid = cqueue::buffer_select(flags);
        let Some(c) = self.slab.get_gen(slot, gen) else {
            if let Some(bid) = bid {
                self.u.bufs.recycle(bid);
            }
            return;
        };
        let more = cqueue::more(flags);
        if !more {
            c.io.recv_armed = false;
        }
        if let Some(bid) = bid {
            if res > 0 && !c.io.closing {
                let data = self.u.bufs.bytes(bid, res as usize);
                c.core
                    .on_bytes(data, self.now, &self.base.lim, sink, &mut self.base.stats);
            }
            self.u.bufs.recycle(bid);
        }
        if c.io.closing {
            self.finish(slot);
            return;
        }
        if c.core.doomed {
            self.close(slot);
            return;
        }
        let paused = c.core.is_paused();
        self.slab.touch(slot);
        if res == 0 {
            // The peer closed (or shut down writing: treated the same). Frames kept
            // while paused are dropped with the connection.
            self.close(slot);
        } else if res == -libc::ECANCELED && !more {
            // Our own cancel (a pause): re-armed on resume.
            if !paused {
                self.arm_recv(slot);
            }
        } else if res == -libc::ENOBUFS {
            self.base.stats.no_buffers += 1;
            if !more && !paused {
                self.arm_recv(slot);
            }
        } else if res < 0 {
            self.close(slot);
        } else if paused {
            self.pause(slot);
        } else if !more {
            self.arm_recv(slot);
        }
    }

    /// The sink is full: stop receiving on `slot` (cancel its multishot recv, so TCP
    /// flow control holds the client back) and offer its kept frames again from the
    /// loop until the sink takes them.
    fn pause(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        if !c.core.listed_paused {
            c.core.listed_paused = true;
            self.paused.push(slot);
        }
        self.cancel_recv(slot);
    }

    /// Offers the paused connections' frames again; re-arms the recv of each one the
    /// sink took everything from.
    fn resume_paused<S: Sink>(&mut self, sink: &mut S) {
        let mut paused = std::mem::take(&mut self.paused);
        let resumed = self
            .base
            .resume_paused(&mut self.slab, &mut paused, self.now, sink, |io| io.closing);
        self.paused = paused;
        for slot in resumed {
            if self.slab.get_mut(slot).is_some_and(|c| c.core.doomed) {
                self.close(slot);
                continue;
            }
            self.slab.touch(slot);
            self.arm_recv(slot);
        }
    }

    fn on_send(&mut self, slot: u32, gen: u32, res: i32) {
        let Some(c) = self.slab.get_gen(slot, gen) else {
            return;
        };
        c.io.send_in_flight = false;
        if c.io.closing {
            self.finish(slot);
            return;
        }
        if res > 0 {
            c.core.on_sent(res as usize, self.now);
            self.try_send(slot);
        } else {
            self.close(slot);
        }
    }

    fn handle<S: Sink>(&mut self, cqe: &cqueue::Entry, sink: &mut S) {
        let (kind, slot, gen) = ud_parts(cqe.user_data());
        let res = cqe.result();
        let flags = cqe.flags();
        match kind {
            K_ACCEPT => self.on_accept(res, flags),
            K_RECV => self.on_recv(slot, gen, res, flags, sink),
            K_SEND => self.on_send(slot, gen, res),
            K_EVENT => {
                self.event_armed = false;
                if res < 0 && res != -libc::EINTR && res != -libc::EAGAIN {
                    self.event_retry = true;
                } else {
                    self.arm_event();
                }
            }
            K_TIMER => self.arm_timer(),
            _ => {}
        }
    }

    fn tick(&mut self) {
        for slot in 0..self.slab.capacity() {
            let Some(c) = self.slab.get_mut(slot) else {
                continue;
            };
            if c.io.closing {
                continue;
            }
            if c.core.tick(self.now, &self.base.lim, &mut self.base.stats) == Verdict::Close {
                self.close(slot);
            }
        }
        if self.accept_retry && !self.accept_armed && !self.base.stopping() {
            self.accept_retry = false;
            self.arm_accept();
        }
        if self.event_retry && !self.event_armed {
            self.event_retry = false;
            self.arm_event();
        }
        self.base.publish();
    }

    /// One wait for completions and their handling; false when the ring failed.
    fn turn<S: Sink>(&mut self, sink: &mut S) -> bool {
        self.move_backlog();
        let want = if self.backlog.is_empty() { 1 } else { 0 };
        let r = if want > 0 && !self.paused.is_empty() {
            // Paused connections are offered again every RESUME_POLL.
            let args = types::SubmitArgs::new().timespec(&self.u.resume_timespec);
            self.u.ring.submitter().submit_with_args(want, &args)
        } else {
            self.u.ring.submit_and_wait(want)
        };
        if let Err(e) = r {
            match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) | Some(libc::ETIME) => {}
                _ => {
                    eprintln!(
                        "netio: thread {}: io_uring_enter failed: {e}",
                        self.base.index
                    );
                    return false;
                }
            }
        }
        self.now = Instant::now();
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(self.u.ring.completion());
        for cqe in &cqes {
            self.handle(cqe, sink);
        }
        cqes.clear();
        self.cqes = cqes;
        true
    }

    fn run<S: Sink>(&mut self, sink: &mut S) {
        self.arm_accept();
        self.arm_event();
        self.arm_timer();
        let mut next_tick = Instant::now() + self.base.tick;
        loop {
            if !self.turn(sink) {
                break;
            }
            if !self.paused.is_empty() {
                self.resume_paused(sink);
            }
            self.base.end_of_batch(sink);
            self.base.deliver_mail(&mut self.slab);
            for slot in std::mem::take(&mut self.slab.dirty) {
                if let Some(c) = self.slab.get_mut(slot) {
                    c.core.dirty = false;
                    if c.core.doomed {
                        self.close(slot);
                        continue;
                    }
                }
                self.try_send(slot);
            }
            if self.now >= next_tick {
                next_tick = self.now + self.base.tick;
                self.tick();
            }
            if self.base.stopping() {
                break;
            }
        }
        // Stop: close everything and give the kernel a moment to finish the ops.
        if self.accept_armed {
            self.push(
                opcode::AsyncCancel::new(ud(K_ACCEPT, 0, 0))
                    .build()
                    .user_data(ud(K_CANCEL, 0, 0)),
            );
        }
        for slot in 0..self.slab.capacity() {
            self.close(slot);
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.slab.len() > 0 && Instant::now() < deadline {
            if !self.turn(sink) {
                break;
            }
        }
        // Whatever the kernel did not finish in time: close the fds anyway (dropping
        // the ring right after cancels the ops).
        for slot in 0..self.slab.capacity() {
            if let Some(c) = self.slab.get_mut(slot) {
                // SAFETY: our fd; the ring is dropped right after this.
                unsafe {
                    libc::close(c.io.fd);
                }
                c.io.fd = -1;
                self.base.release();
            }
        }
        self.base.drop_remaining_mail();
        self.base.publish();
    }
}
