//! The portable backend: one mio (epoll/kqueue) event loop per thread, edge-triggered,
//! with a mio waker for the responder.

use crate::conn::{Base, Slab, ThreadCtx, Verdict};
use crate::{Sink, Wake};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;
/// Reads per readiness event before other connections get a turn.
const READS_PER_TURN: usize = 16;

pub(crate) struct Fallback {
    poll: Poll,
    listener: TcpListener,
    waker: Waker,
    buffer_bytes: usize,
}

impl Fallback {
    pub(crate) fn new(
        ctx: &ThreadCtx,
        listener: &std::net::TcpListener,
    ) -> Result<Fallback, String> {
        let setup = || -> io::Result<Fallback> {
            let poll = Poll::new()?;
            let l = listener.try_clone()?;
            l.set_nonblocking(true)?;
            let mut listener = TcpListener::from_std(l);
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            Ok(Fallback {
                poll,
                listener,
                waker,
                buffer_bytes: ctx.config.buffer_bytes as usize,
            })
        };
        setup().map_err(|e| format!("fallback setup: {e}"))
    }

    pub(crate) fn run<S: Sink>(self, ctx: ThreadCtx, sink: &mut S) {
        let Fallback {
            poll,
            listener,
            waker,
            buffer_bytes,
        } = self;
        let base = Base::new(ctx);
        let _ = base.thread.wake.set(Wake::Mio(waker));
        let mut l = Loop {
            poll,
            listener,
            base,
            slab: Slab::new(),
            scratch: vec![0u8; buffer_bytes],
            again: Vec::new(),
            paused: Vec::new(),
            accept_retry: false,
            now: Instant::now(),
        };
        l.run(sink);
    }
}

struct Loop {
    poll: Poll,
    listener: TcpListener,
    base: Base,
    slab: Slab<TcpStream>,
    scratch: Vec<u8>,
    /// Connections that still had input when their turn ended.
    again: Vec<u32>,
    /// Connections waiting for the sink to have room; not read meanwhile.
    paused: Vec<u32>,
    accept_retry: bool,
    now: Instant,
}

impl Loop {
    fn run<S: Sink>(&mut self, sink: &mut S) {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + self.base.tick;
        loop {
            let timeout = if !self.again.is_empty() {
                Duration::ZERO
            } else if !self.paused.is_empty() {
                // Paused connections are offered again every RESUME_POLL.
                next_tick
                    .saturating_duration_since(Instant::now())
                    .min(crate::RESUME_POLL)
            } else {
                next_tick.saturating_duration_since(Instant::now())
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    eprintln!("netio: thread {}: poll failed: {e}", self.base.index);
                    break;
                }
            }
            self.now = Instant::now();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(t) => {
                        let slot = (t - FIRST_CONN) as u32;
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.read(slot, sink);
                        }
                        if ev.is_writable() {
                            self.slab.touch(slot);
                        }
                    }
                }
            }
            if !self.paused.is_empty() {
                self.resume_paused(sink);
            }
            for slot in std::mem::take(&mut self.again) {
                self.read(slot, sink);
            }
            self.base.end_of_batch(sink);
            self.base.deliver_mail(&mut self.slab);
            for slot in std::mem::take(&mut self.slab.dirty) {
                self.flush(slot);
            }
            if self.now >= next_tick {
                next_tick = self.now + self.base.tick;
                self.tick();
            }
            if self.base.stopping() {
                break;
            }
        }
        for slot in 0..self.slab.capacity() {
            self.close(slot);
        }
        self.base.drop_remaining_mail();
        self.base.publish();
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if !self.base.admit() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let Some((slot, _)) = self.slab.insert(self.base.index, self.now, stream)
                    else {
                        self.base.stats.connections_accepted -= 1;
                        self.base.stats.connections_refused += 1;
                        self.base.release();
                        continue;
                    };
                    let Some(c) = self.slab.get_mut(slot) else {
                        continue;
                    };
                    let token = Token(slot as usize + FIRST_CONN);
                    if self
                        .poll
                        .registry()
                        .register(&mut c.io, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        self.base.stats.connections_closed += 1;
                        self.slab.remove(slot);
                        self.base.release();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_retry = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(_) => {
                    // Out of fds or similar: edge-triggered readiness will not repeat,
                    // so try again at the next tick.
                    self.accept_retry = true;
                    return;
                }
            }
        }
    }

    /// Offers the paused connections' frames again. A connection the sink took
    /// everything from is read again (edge-triggered readiness will not repeat for
    /// the bytes that waited in the socket).
    fn resume_paused<S: Sink>(&mut self, sink: &mut S) {
        let mut paused = std::mem::take(&mut self.paused);
        let resumed = self
            .base
            .resume_paused(&mut self.slab, &mut paused, self.now, sink, |_| false);
        self.paused = paused;
        for slot in resumed {
            if self.slab.get_mut(slot).is_some_and(|c| c.core.doomed) {
                self.close(slot);
                continue;
            }
            self.slab.touch(slot);
            self.again.push(slot);
        }
    }

    fn read<S: Sink>(&mut self, slot: u32, sink: &mut S) {
        for _ in 0..READS_PER_TURN {
            let Some(c) = self.slab.get_mut(slot) else {
                return;
            };
            if c.core.is_paused() {
                // Leave the rest in the socket: TCP flow control holds the client.
                if !c.core.listed_paused {
                    c.core.listed_paused = true;
                    self.paused.push(slot);
                }
                return;
            }
            match c.io.read(&mut self.scratch) {
                Ok(0) => {
                    self.close(slot);
                    return;
                }
                Ok(n) => {
                    c.core.on_bytes(
                        &self.scratch[..n],
                        self.now,
                        &self.base.lim,
                        sink,
                        &mut self.base.stats,
                    );
                    if c.core.doomed {
                        self.close(slot);
                        return;
                    }
                    self.slab.touch(slot);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        self.again.push(slot);
    }

    fn flush(&mut self, slot: u32) {
        let Some(c) = self.slab.get_mut(slot) else {
            return;
        };
        c.core.dirty = false;
        while let Some(buf) = c.core.next_send() {
            match c.io.write(buf) {
                Ok(0) => {
                    self.close(slot);
                    return;
                }
                Ok(n) => c.core.on_sent(n, self.now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        if c.core.drained() {
            let _ = c.io.shutdown(Shutdown::Write);
            c.core.start_linger(self.now, &self.base.lim);
        }
    }

    fn tick(&mut self) {
        for slot in 0..self.slab.capacity() {
            let Some(c) = self.slab.get_mut(slot) else {
                continue;
            };
            if c.core.tick(self.now, &self.base.lim, &mut self.base.stats) == Verdict::Close {
                self.close(slot);
            }
        }
        if self.accept_retry {
            self.accept();
        }
        self.base.publish();
    }

    fn close(&mut self, slot: u32) {
        if let Some(mut c) = self.slab.remove(slot) {
            let _ = self.poll.registry().deregister(&mut c.io);
            self.base.stats.connections_closed += 1;
            self.base.release();
        }
    }
}
