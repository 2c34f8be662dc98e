//! A blocking client for tests, load generators and benchmarks.

use crate::{decode_answer, encode_frame};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// Answers larger than this are treated as a protocol error (a hostile or broken
/// server cannot make the client buffer without bound).
pub const ANSWER_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Frames are buffered up to this many bytes before they are written.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// One answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub seq: u64,
    pub code: u8,
    pub detail: Vec<u8>,
}

pub struct Client {
    stream: TcpStream,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    rpos: usize,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Client::from_stream(stream))
    }

    fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream,
            wbuf: Vec::new(),
            rbuf: Vec::new(),
            rpos: 0,
        }
    }

    /// Sets the kernel send buffer (SO_SNDBUF). A load generator keeps it small so
    /// that what waits for the server waits in the generator, where it is timed.
    pub fn set_send_buffer(&self, bytes: u32) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let v = bytes.min(i32::MAX as u32 / 2) as libc::c_int;
        // SAFETY: setsockopt(2) on our own socket with a live c_int and its size.
        let r = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Buffers a frame (header + body); written when the buffer fills, on `flush` or
    /// before `recv_answer` blocks.
    pub fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        encode_frame(frame, &mut self.wbuf);
        if self.wbuf.len() >= WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes raw bytes at once (after anything buffered), for hostile tests.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.stream.write_all(bytes)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let r = self.stream.write_all(&self.wbuf);
            self.wbuf.clear();
            r?;
        }
        Ok(())
    }

    /// Blocks for the next answer; `Err` on EOF (`UnexpectedEof`), on a timeout set
    /// with `set_read_timeout`, or on a malformed answer (`InvalidData`).
    pub fn recv_answer(&mut self) -> io::Result<Answer> {
        self.flush()?;
        loop {
            match decode_answer(&self.rbuf[self.rpos..]) {
                Ok(Some((a, n))) => {
                    self.rpos += n;
                    if self.rpos == self.rbuf.len() {
                        self.rbuf.clear();
                        self.rpos = 0;
                    }
                    return Ok(a);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let have = self.rbuf.len() - self.rpos;
            if have >= 4 {
                let b = &self.rbuf[self.rpos..];
                let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                if len > ANSWER_BYTES_MAX {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("answer length {len} exceeds {ANSWER_BYTES_MAX}"),
                    ));
                }
            }
            if self.rpos > 0 {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            let old = self.rbuf.len();
            self.rbuf.resize(old + 64 * 1024, 0);
            let r = self.stream.read(&mut self.rbuf[old..]);
            match r {
                Ok(0) => {
                    self.rbuf.truncate(old);
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ));
                }
                Ok(n) => self.rbuf.truncate(old + n),
                Err(e) => {
                    self.rbuf.truncate(old);
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Blocks for the next answer like `recv_answer`, then also takes every further
    /// answer already received (no more reads): a reader that handles answers in
    /// batches this way pays one wake-up and one clock read per batch. Appends to
    /// `out`; a malformed answer after the first is reported by the next call.
    pub fn recv_answers(&mut self, out: &mut Vec<Answer>) -> io::Result<()> {
        out.push(self.recv_answer()?);
        while let Ok(Some((a, n))) = decode_answer(&self.rbuf[self.rpos..]) {
            self.rpos += n;
            out.push(a);
        }
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        Ok(())
    }

    pub fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(t)
    }

    /// Another handle on the same connection (with its own buffers), for a
    /// writer/reader split when pipelining.
    pub fn try_clone(&self) -> io::Result<Client> {
        Ok(Client::from_stream(self.stream.try_clone()?))
    }

    /// Shuts down reading, writing or both (after flushing buffered frames when
    /// writing is shut down).
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Read {
            self.flush()?;
        }
        self.stream.shutdown(how)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_answer;
    use std::net::TcpListener;

    /// `recv_answers` takes every answer that one read brought, and a split answer is
    /// completed by the next call.
    #[test]
    fn recv_answers_takes_what_is_buffered() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = Client::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut bytes = Vec::new();
        for seq in 0..5 {
            encode_answer(seq, 16, format!("{seq}").as_bytes(), &mut bytes);
        }
        let cut = bytes.len() - 2;
        server.write_all(&bytes[..cut]).unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            c.recv_answers(&mut got).unwrap();
        }
        assert_eq!(got.len(), 4, "the fifth is incomplete");
        assert_eq!(
            got.iter().map(|a| a.seq).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        server.write_all(&bytes[cut..]).unwrap();
        c.recv_answers(&mut got).unwrap();
        assert_eq!(
            got[4],
            Answer {
                seq: 4,
                code: 16,
                detail: b"4".to_vec()
            }
        );
    }
}
