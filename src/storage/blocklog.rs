//! The block log: every block this node accepted, appended in order.
//!
//! ```text
//! blocks.log    "CARBLOG1" ‖ chain id (32 bytes) ‖ frame ‖ frame ‖ …
//!   frame       payload length u32 ‖ block number u32 ‖ last irreversible u32 ‖
//!               CRC-32 u32 ‖ payload (borsh of the signed block)
//!   CRC-32      over length ‖ number ‖ last irreversible ‖ payload
//! blocks.index  u64 offset of block 1's frame ‖ of block 2's ‖ …
//! ```
//!
//! All integers are little-endian. Each frame also records the last irreversible
//! block as it stood when the block was written, so that a replay knows which blocks
//! were already irreversible (their signatures need no second check).
//!
//! The index is derived data: [`BlockLog::open`] checks its tail against the log,
//! rebuilds what is missing and cuts a torn or corrupt tail off the log (with a
//! warning that says what was cut). Appends write the frame, then the index entry,
//! each at its own offset, and undo a partial write, so a failed append (a full disk)
//! leaves both files as they were.
//!
//! Durability: [`BlockLog::head`] is the newest block handed to the kernel (it
//! survives the process being killed); [`BlockLog::synced`] is the newest block on
//! stable storage (it survives a power cut). Which one the node reports as
//! irreversible depends on the [`super::FsyncPolicy`].

use crate::protocol::codec::decode;
use crate::protocol::{ChainId, SignedBlock};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub const LOG_FILE: &str = "blocks.log";
pub const INDEX_FILE: &str = "blocks.index";
const MAGIC: &[u8; 8] = b"CARBLOG1";
/// Magic and chain id.
pub const FILE_HEADER_BYTES: u64 = 8 + 32;
/// Length, number, last irreversible, CRC.
pub const FRAME_HEADER_BYTES: u64 = 16;
/// No block payload is larger (the chain's `maximum_block_size` is far below it);
/// a larger length field is corruption.
pub const FRAME_PAYLOAD_MAX: u32 = 64 << 20;

/// What went wrong with the block log, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a Carbyne block log (bad header)", path.display())]
    BadHeader { path: PathBuf },
    #[error("{} belongs to chain {found}, not to this node's chain {expected}; move it away or start with --resync-blockchain", path.display())]
    WrongChain {
        path: PathBuf,
        found: ChainId,
        expected: ChainId,
    },
    #[error("block #{num} cannot follow block #{head} in the block log")]
    OutOfOrder { num: u32, head: u32 },
    #[error("block #{num} in {}: {what}", path.display())]
    Corrupt {
        path: PathBuf,
        num: u32,
        what: String,
    },
}

/// A torn or corrupt tail that [`BlockLog::open`] cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The first block that was not kept.
    pub first_dropped: u32,
    pub offset: u64,
    pub bytes: u64,
    pub reason: String,
}

/// What [`BlockLog::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub truncated: Option<Truncation>,
    /// Index entries that had to be (re)built from the log.
    pub index_rebuilt: u32,
}

/// One frame as read back: the block's bytes and what the frame header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    pub num: u32,
    /// The last irreversible block when this block was written.
    pub last_irreversible: u32,
    pub payload: Vec<u8>,
}

impl RawBlock {
    pub fn decode(&self) -> Result<SignedBlock, String> {
        decode("block", &self.payload, FRAME_PAYLOAD_MAX as usize)
            .map_err(|e| format!("undecodable block: {e}"))
    }
}

struct Writer {
    log: File,
    index: File,
    /// Offset just past the last frame.
    end: u64,
    head: u32,
    frame: Vec<u8>,
}

pub struct BlockLog {
    log_path: PathBuf,
    index_path: PathBuf,
    writer: Mutex<Writer>,
    /// Handles for reads (positioned reads need no lock) and `sync`.
    log: File,
    index: File,
    written: AtomicU32,
    synced: AtomicU32,
    sync_lock: Mutex<()>,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..12]);
    h.update(payload);
    h.finalize()
}

/// Frame header fields: (payload length, number, last irreversible, crc).
fn parse_header(h: &[u8; 16]) -> (u32, u32, u32, u32) {
    let f = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4 bytes"));
    (f(0), f(4), f(8), f(12))
}

/// Reads the frame at `offset`, expecting block `num`: `Ok(None)` at the end of the
/// file, `Err(reason)` for a torn or corrupt frame.
fn read_frame_at(
    file: &File,
    offset: u64,
    file_len: u64,
    num: u32,
) -> Result<Option<RawBlock>, String> {
    if offset == file_len {
        return Ok(None);
    }
    if offset + FRAME_HEADER_BYTES > file_len {
        return Err(format!(
            "torn frame header ({} of {FRAME_HEADER_BYTES} bytes)",
            file_len - offset
        ));
    }
    let mut h = [0u8; 16];
    file.read_exact_at(&mut h, offset)
        .map_err(|e| format!("read error: {e}"))?;
    let (len, got_num, lib, sum) = parse_header(&h);
    if len > FRAME_PAYLOAD_MAX {
        return Err(format!("frame length {len} exceeds {FRAME_PAYLOAD_MAX}"));
    }
    if got_num != num {
        return Err(format!("frame says block #{got_num}"));
    }
    let start = offset + FRAME_HEADER_BYTES;
    if start + len as u64 > file_len {
        return Err(format!(
            "torn frame ({} of {len} payload bytes)",
            file_len - start
        ));
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact_at(&mut payload, start)
        .map_err(|e| format!("read error: {e}"))?;
    if crc(&h, &payload) != sum {
        return Err("checksum mismatch".into());
    }
    Ok(Some(RawBlock {
        num,
        last_irreversible: lib,
        payload,
    }))
}

impl BlockLog {
    /// Opens (or creates) the log in `dir` for chain `chain_id`, repairing the index
    /// and cutting off a torn or corrupt tail.
    pub fn open(dir: &Path, chain_id: ChainId) -> Result<(BlockLog, OpenReport), LogError> {
        let log_path = dir.join(LOG_FILE);
        let index_path = dir.join(INDEX_FILE);
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
                .map_err(io_err("opening", p))
        };
        let log = open(&log_path)?;
        let index = open(&index_path)?;
        let mut log_len = log.metadata().map_err(io_err("reading", &log_path))?.len();
        let mut expected = MAGIC.to_vec();
        expected.extend_from_slice(&chain_id.0);
        let mut start = vec![0u8; log_len.min(FILE_HEADER_BYTES) as usize];
        log.read_exact_at(&mut start, 0)
            .map_err(io_err("reading", &log_path))?;
        // New, or torn while it was being created.
        if log_len < FILE_HEADER_BYTES && expected.starts_with(&start) {
            log.write_all_at(&expected, 0)
                .map_err(io_err("writing", &log_path))?;
            log.sync_data().map_err(io_err("syncing", &log_path))?;
            sync_dir(dir).map_err(io_err("syncing", dir))?;
            log_len = FILE_HEADER_BYTES;
        }
        let mut header = [0u8; FILE_HEADER_BYTES as usize];
        if log_len < FILE_HEADER_BYTES
            || log.read_exact_at(&mut header, 0).is_err()
            || &header[..8] != MAGIC
        {
            return Err(LogError::BadHeader { path: log_path });
        }
        let found = ChainId(header[8..].try_into().expect("32 bytes"));
        if found != chain_id {
            return Err(LogError::WrongChain {
                path: log_path,
                found,
                expected: chain_id,
            });
        }

        // The newest index entry that points at a good frame.
        let index_len = index
            .metadata()
            .map_err(io_err("reading", &index_path))?
            .len();
        let mut entries = (index_len / 8) as u32;
        let mut resume = (FILE_HEADER_BYTES, 1u32);
        while entries > 0 {
            let mut b = [0u8; 8];
            index
                .read_exact_at(&mut b, (entries as u64 - 1) * 8)
                .map_err(io_err("reading", &index_path))?;
            let offset = u64::from_le_bytes(b);
            if offset >= FILE_HEADER_BYTES {
                if let Ok(Some(f)) = read_frame_at(&log, offset, log_len, entries) {
                    resume = (
                        offset + FRAME_HEADER_BYTES + f.payload.len() as u64,
                        entries + 1,
                    );
                    break;
                }
            }
            entries -= 1;
        }
        // Frames after it: index them, and cut the log at the first bad one.
        let (mut offset, mut num) = resume;
        let mut report = OpenReport::default();
        let mut new_entries = Vec::new();
        loop {
            match read_frame_at(&log, offset, log_len, num) {
                Ok(Some(f)) => {
                    new_entries.extend_from_slice(&offset.to_le_bytes());
                    offset += FRAME_HEADER_BYTES + f.payload.len() as u64;
                    num += 1;
                }
                Ok(None) => break,
                Err(reason) => {
                    report.truncated = Some(Truncation {
                        first_dropped: num,
                        offset,
                        bytes: log_len - offset,
                        reason,
                    });
                    log.set_len(offset)
                        .map_err(io_err("truncating", &log_path))?;
                    log.sync_all().map_err(io_err("syncing", &log_path))?;
                    break;
                }
            }
        }
        report.index_rebuilt = (new_entries.len() / 8) as u32;
        let head = num - 1;
        let kept = (resume.1 as u64 - 1) * 8;
        index
            .set_len(kept)
            .map_err(io_err("truncating", &index_path))?;
        index
            .write_all_at(&new_entries, kept)
            .map_err(io_err("writing", &index_path))?;
        if report.index_rebuilt > 0 || index_len != head as u64 * 8 {
            index.sync_all().map_err(io_err("syncing", &index_path))?;
        }
        let writer = Writer {
            log: log.try_clone().map_err(io_err("opening", &log_path))?,
            index: index.try_clone().map_err(io_err("opening", &index_path))?,
            end: offset,
            head,
            frame: Vec::new(),
        };
        Ok((
            BlockLog {
                log_path,
                index_path,
                writer: Mutex::new(writer),
                log,
                index,
                // What is in the files now is on disk as far as we can tell: the
                // previous run (or the repair above) wrote it.
                written: AtomicU32::new(head),
                synced: AtomicU32::new(head),
                sync_lock: Mutex::new(()),
            },
            report,
        ))
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// The newest block in the log (0 when empty).
    ///
    /// Everything in the log was handed to the kernel, so this is also the newest
    /// block that survives the process being killed.
    pub fn head(&self) -> u32 {
        self.written.load(Ordering::Acquire)
    }
    /// The newest block on stable storage: it survives a power cut.
    pub fn synced(&self) -> u32 {
        self.synced.load(Ordering::Acquire)
    }

    /// Appends block `num` (the next one) with its encoding `payload`. On error the
    /// files are as they were before the call.
    pub fn append(&self, num: u32, last_irreversible: u32, payload: &[u8]) -> Result<(), LogError> {
        let mut w = self.writer.lock();
        if num != w.head + 1 {
            return Err(LogError::OutOfOrder { num, head: w.head });
        }
        if payload.len() > FRAME_PAYLOAD_MAX as usize {
            return Err(LogError::Corrupt {
                path: self.log_path.clone(),
                num,
                what: format!("{} bytes exceed the frame limit", payload.len()),
            });
        }
        let Writer {
            log,
            index,
            end,
            frame,
            ..
        } = &mut *w;
        frame.clear();
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&num.to_le_bytes());
        frame.extend_from_slice(&last_irreversible.to_le_bytes());
        let sum = crc(frame, payload);
        frame.extend_from_slice(&sum.to_le_bytes());
        frame.extend_from_slice(payload);
        let at = *end;
        if let Err(e) = log.write_all_at(frame, at) {
            let _ = log.set_len(at);
            return Err(io_err("appending to", &self.log_path)(e));
        }
        if let Err(e) = index.write_all_at(&at.to_le_bytes(), (num as u64 - 1) * 8) {
            let _ = log.set_len(at);
            let _ = index.set_len((num as u64 - 1) * 8);
            return Err(io_err("appending to", &self.index_path)(e));
        }
        *end = at + frame.len() as u64;
        w.head = num;
        self.written.store(num, Ordering::Release);
        Ok(())
    }

    /// Puts everything written so far on stable storage; returns the newest block
    /// that is now synced. Callers on several threads share one sync at a time.
    pub fn sync(&self) -> Result<u32, LogError> {
        let _one = self.sync_lock.lock();
        let target = self.head();
        if self.synced() >= target {
            return Ok(self.synced());
        }
        self.log
            .sync_data()
            .map_err(io_err("syncing", &self.log_path))?;
        self.index
            .sync_data()
            .map_err(io_err("syncing", &self.index_path))?;
        self.synced.fetch_max(target, Ordering::AcqRel);
        Ok(target)
    }

    /// Drops every block above `num` (a fork switch, or a block that failed its
    /// replay).
    pub fn truncate_after(&self, num: u32) -> Result<(), LogError> {
        let mut w = self.writer.lock();
        if num >= w.head {
            return Ok(());
        }
        let end = self.offset_of(num + 1)?;
        w.log
            .set_len(end)
            .map_err(io_err("truncating", &self.log_path))?;
        w.index
            .set_len(num as u64 * 8)
            .map_err(io_err("truncating", &self.index_path))?;
        w.log
            .sync_all()
            .map_err(io_err("syncing", &self.log_path))?;
        w.index
            .sync_all()
            .map_err(io_err("syncing", &self.index_path))?;
        w.end = end;
        w.head = num;
        self.written.store(num, Ordering::Release);
        self.synced.fetch_min(num, Ordering::AcqRel);
        Ok(())
    }

    fn offset_of(&self, num: u32) -> Result<u64, LogError> {
        let mut b = [0u8; 8];
        self.index
            .read_exact_at(&mut b, (num as u64 - 1) * 8)
            .map_err(io_err("reading", &self.index_path))?;
        Ok(u64::from_le_bytes(b))
    }

    /// Block `num`, checked against its CRC; `None` if it is not in the log.
    pub fn read(&self, num: u32) -> Result<Option<RawBlock>, LogError> {
        if num == 0 || num > self.head() {
            return Ok(None);
        }
        let offset = self.offset_of(num)?;
        let len = self
            .log
            .metadata()
            .map_err(io_err("reading", &self.log_path))?
            .len();
        read_frame_at(&self.log, offset, len, num).map_err(|what| LogError::Corrupt {
            path: self.log_path.clone(),
            num,
            what,
        })
    }

    /// Reads blocks `from..=head()` in order through one buffered stream (a replay).
    pub fn reader(&self, from: u32) -> Result<LogReader, LogError> {
        let head = self.head();
        let mut file = File::open(&self.log_path).map_err(io_err("opening", &self.log_path))?;
        if from <= head && from > 0 {
            let offset = self.offset_of(from)?;
            file.seek(SeekFrom::Start(offset))
                .map_err(io_err("reading", &self.log_path))?;
        }
        Ok(LogReader {
            input: BufReader::with_capacity(1 << 20, file),
            path: self.log_path.clone(),
            next: from.max(1),
            last: head,
        })
    }
}

/// Sequential reads for replay: each frame's CRC and number are checked.
pub struct LogReader {
    input: BufReader<File>,
    path: PathBuf,
    next: u32,
    last: u32,
}

impl LogReader {
    /// The last block this reader will return.
    pub fn last(&self) -> u32 {
        self.last
    }
}

impl Iterator for LogReader {
    type Item = Result<RawBlock, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.last {
            return None;
        }
        let num = self.next;
        let corrupt = |what: String| LogError::Corrupt {
            path: self.path.clone(),
            num,
            what,
        };
        let mut h = [0u8; 16];
        if let Err(e) = self.input.read_exact(&mut h) {
            self.next = u32::MAX;
            return Some(Err(corrupt(format!("read error: {e}"))));
        }
        let (len, got, lib, sum) = parse_header(&h);
        if got != num || len > FRAME_PAYLOAD_MAX {
            self.next = u32::MAX;
            return Some(Err(corrupt(format!(
                "bad frame header (number {got}, length {len})"
            ))));
        }
        let mut payload = vec![0u8; len as usize];
        if let Err(e) = self.input.read_exact(&mut payload) {
            self.next = u32::MAX;
            return Some(Err(corrupt(format!("read error: {e}"))));
        }
        if crc(&h, &payload) != sum {
            self.next = u32::MAX;
            return Some(Err(corrupt("checksum mismatch".into())));
        }
        self.next += 1;
        Some(Ok(RawBlock {
            num,
            last_irreversible: lib,
            payload,
        }))
    }
}

/// Makes a directory's entries (a created or renamed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "carbyne-blocklog-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
    fn chain() -> ChainId {
        ChainId([7; 32])
    }
    fn payload(n: u32) -> Vec<u8> {
        (0..(n * 37 % 500 + 1)).map(|i| (i ^ n) as u8).collect()
    }
    fn fill(dir: &Path, n: u32) -> BlockLog {
        let (log, report) = BlockLog::open(dir, chain()).unwrap();
        assert_eq!(report, OpenReport::default());
        for i in 1..=n {
            log.append(i, i.saturating_sub(3), &payload(i)).unwrap();
        }
        log
    }

    #[test]
    fn append_read_reopen() {
        let dir = tmp("basic");
        let log = fill(&dir, 50);
        assert_eq!(log.head(), 50);
        assert_eq!(log.sync().unwrap(), 50);
        let b = log.read(17).unwrap().unwrap();
        assert_eq!(
            (b.num, b.last_irreversible, b.payload),
            (17, 14, payload(17))
        );
        assert!(log.read(51).unwrap().is_none());
        assert!(log.read(0).unwrap().is_none());
        assert!(matches!(
            log.append(52, 0, b"x"),
            Err(LogError::OutOfOrder { num: 52, head: 50 })
        ));
        drop(log);
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert_eq!(report, OpenReport::default());
        assert_eq!(log.head(), 50);
        let all: Vec<_> = log.reader(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(all.len(), 50);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, b)| b.payload == payload(i as u32 + 1)));
        let tail: Vec<u32> = log.reader(48).unwrap().map(|b| b.unwrap().num).collect();
        assert_eq!(tail, vec![48, 49, 50]);
        assert_eq!(log.reader(51).unwrap().count(), 0);
    }

    #[test]
    fn wrong_chain_and_bad_header_are_refused() {
        let dir = tmp("chain");
        drop(fill(&dir, 2));
        let err = BlockLog::open(&dir, ChainId([8; 32])).err().unwrap();
        assert!(matches!(err, LogError::WrongChain { .. }), "{err}");
        assert!(err.to_string().contains("--resync-blockchain"));
        std::fs::write(dir.join(LOG_FILE), b"not a log at all, really not").unwrap();
        let err = BlockLog::open(&dir, chain()).err().unwrap();
        assert!(matches!(err, LogError::BadHeader { .. }), "{err}");
    }

    fn cut_and_reopen(dir: &Path, damage: impl FnOnce(&Path)) -> (BlockLog, OpenReport) {
        damage(&dir.join(LOG_FILE));
        BlockLog::open(dir, chain()).unwrap()
    }

    #[test]
    fn torn_tail_is_truncated() {
        let dir = tmp("torn");
        drop(fill(&dir, 20));
        let (log, report) = cut_and_reopen(&dir, |p| {
            let f = OpenOptions::new().write(true).open(p).unwrap();
            let len = f.metadata().unwrap().len();
            f.set_len(len - 5).unwrap();
        });
        let t = report.truncated.expect("the torn frame is cut");
        assert_eq!(t.first_dropped, 20);
        assert!(t.reason.contains("torn"), "{}", t.reason);
        assert_eq!(log.head(), 19);
        // The log takes block 20 again, and it reads back.
        log.append(20, 17, b"again").unwrap();
        assert_eq!(log.read(20).unwrap().unwrap().payload, b"again");
        drop(log);
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert_eq!((log.head(), report), (20, OpenReport::default()));
    }

    #[test]
    fn flipped_byte_in_last_block_is_truncated() {
        let dir = tmp("flip");
        drop(fill(&dir, 9));
        let (log, report) = cut_and_reopen(&dir, |p| {
            let mut bytes = std::fs::read(p).unwrap();
            let n = bytes.len();
            bytes[n - 2] ^= 0x40;
            std::fs::write(p, bytes).unwrap();
        });
        let t = report.truncated.unwrap();
        assert_eq!(
            (t.first_dropped, t.reason.as_str()),
            (9, "checksum mismatch")
        );
        assert_eq!(log.head(), 8);
        assert_eq!(log.read(8).unwrap().unwrap().payload, payload(8));
    }

    #[test]
    fn lost_or_garbage_index_is_rebuilt() {
        let dir = tmp("index");
        drop(fill(&dir, 30));
        std::fs::write(dir.join(INDEX_FILE), b"").unwrap();
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert_eq!((log.head(), report.index_rebuilt), (30, 30));
        assert_eq!(log.read(30).unwrap().unwrap().payload, payload(30));
        drop(log);
        // An index longer than the log, with a torn entry and garbage at its end.
        let mut idx = std::fs::read(dir.join(INDEX_FILE)).unwrap();
        idx.truncate(20 * 8);
        idx.extend_from_slice(&[0xff; 8 * 3 + 5]);
        std::fs::write(dir.join(INDEX_FILE), idx).unwrap();
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert_eq!((log.head(), report.index_rebuilt), (30, 10));
        assert!(report.truncated.is_none());
        for n in [1, 20, 21, 30] {
            assert_eq!(log.read(n).unwrap().unwrap().payload, payload(n));
        }
    }

    #[test]
    fn truncate_after_drops_the_top() {
        let dir = tmp("trunc");
        let log = fill(&dir, 12);
        log.sync().unwrap();
        log.truncate_after(7).unwrap();
        assert_eq!((log.head(), log.synced()), (7, 7));
        log.append(8, 5, b"fork").unwrap();
        drop(log);
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert_eq!((log.head(), report), (8, OpenReport::default()));
        assert_eq!(log.read(8).unwrap().unwrap().payload, b"fork");
    }

    #[test]
    fn reader_reports_corruption_in_the_middle() {
        let dir = tmp("middle");
        drop(fill(&dir, 10));
        let (log, _) = BlockLog::open(&dir, chain()).unwrap();
        let offset = log.offset_of(4).unwrap();
        drop(log);
        let p = dir.join(LOG_FILE);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[offset as usize + FRAME_HEADER_BYTES as usize] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        // Only the tail is checked at open; the replay finds the damage.
        let (log, report) = BlockLog::open(&dir, chain()).unwrap();
        assert!(report.truncated.is_none());
        let got: Vec<_> = log.reader(1).unwrap().collect();
        assert_eq!(got.len(), 4);
        assert!(matches!(&got[3], Err(LogError::Corrupt { num: 4, .. })));
        assert!(matches!(log.read(4), Err(LogError::Corrupt { num: 4, .. })));
    }
}
