//! Snapshot files: the whole state at one block.
//!
//! ```text
//! snapshots/snapshot-0000012345.bin
//!   header (128 bytes): "CARBSNP1" ‖ chain id (32) ‖ block number u32 ‖ block id (32) ‖
//!                       state digest (32) ‖ body length u64 ‖ body CRC-32 u32 ‖
//!                       zero padding ‖ header CRC-32 u32 (over the 124 bytes before it)
//!   body:               the store's image (`chain::store::image`)
//! ```
//!
//! A snapshot is written to `NAME.tmp`, synced, renamed into place and the directory
//! synced, so a file with the final name is always complete. Loading checks both
//! CRCs, then recomputes the state digest of what it read and compares it with the
//! header: a snapshot that loads is exactly the state that was saved.

use super::blocklog::sync_dir;
use crate::chain::store::Store;
use crate::protocol::{BlockId, ChainId};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CARBSNP1";
pub const HEADER_BYTES: usize = 128;
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".bin";

/// What a snapshot's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub chain_id: ChainId,
    pub block_num: u32,
    pub block_id: BlockId,
    pub state_digest: [u8; 32],
    pub body_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The file name of the snapshot at `block_num`.
pub fn file_name(block_num: u32) -> String {
    format!("{PREFIX}{block_num:010}{SUFFIX}")
}

/// Snapshots in `dir`, newest first, by the block number in their names.
pub fn list(dir: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u32>().ok())
        {
            found.push((num, entry.path()));
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found)
}

/// Removes `*.tmp` files left by a write that did not finish.
pub fn remove_partial(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(removed);
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Counts and checksums what passes through.
struct Tally<W> {
    inner: W,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Tally<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn encode_header(meta: &SnapshotMeta, body_crc: u32) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8..40].copy_from_slice(&meta.chain_id.0);
    h[40..44].copy_from_slice(&meta.block_num.to_le_bytes());
    h[44..76].copy_from_slice(&meta.block_id.0);
    h[76..108].copy_from_slice(&meta.state_digest);
    h[108..116].copy_from_slice(&meta.body_bytes.to_le_bytes());
    h[116..120].copy_from_slice(&body_crc.to_le_bytes());
    let sum = crc32fast::hash(&h[..124]);
    h[124..].copy_from_slice(&sum.to_le_bytes());
    h
}

fn decode_header(h: &[u8; HEADER_BYTES]) -> Result<(SnapshotMeta, u32), String> {
    if &h[..8] != MAGIC {
        return Err("not a Carbyne snapshot (bad magic)".into());
    }
    let sum = u32::from_le_bytes(h[124..].try_into().expect("4 bytes"));
    if crc32fast::hash(&h[..124]) != sum {
        return Err("header checksum mismatch".into());
    }
    let meta = SnapshotMeta {
        chain_id: ChainId(h[8..40].try_into().expect("32 bytes")),
        block_num: u32::from_le_bytes(h[40..44].try_into().expect("4 bytes")),
        block_id: BlockId(h[44..76].try_into().expect("32 bytes")),
        state_digest: h[76..108].try_into().expect("32 bytes"),
        body_bytes: u64::from_le_bytes(h[108..116].try_into().expect("8 bytes")),
    };
    Ok((
        meta,
        u32::from_le_bytes(h[116..120].try_into().expect("4 bytes")),
    ))
}

/// Writes `store` (the state at `block_num`, whose id is `block_id`) into `dir`
/// atomically. `state_digest` is computed here. Returns the header written and the
/// final path.
pub fn write(
    dir: &Path,
    store: &Store,
    block_num: u32,
    block_id: BlockId,
) -> Result<(SnapshotMeta, PathBuf), SnapshotError> {
    let path = dir.join(file_name(block_num));
    let tmp = dir.join(format!("{}.tmp", file_name(block_num)));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err("creating", &tmp))?;
    let result = (|| {
        // The body goes through the buffer first, so that the CRC sees large slices.
        let mut f = &file;
        f.seek(SeekFrom::Start(HEADER_BYTES as u64))
            .map_err(io_err("writing", &tmp))?;
        let mut out = BufWriter::with_capacity(
            1 << 20,
            Tally {
                inner: f,
                crc: crc32fast::Hasher::new(),
                bytes: 0,
            },
        );
        store
            .encode_image(&mut out)
            .map_err(io_err("writing", &tmp))?;
        let tally = out
            .into_inner()
            .map_err(|e| io_err("writing", &tmp)(e.into_error()))?;
        let meta = SnapshotMeta {
            chain_id: store
                .chain_property
                .as_ref()
                .map(|p| p.chain_id)
                .unwrap_or_default(),
            block_num,
            block_id,
            state_digest: store.state_digest(),
            body_bytes: tally.bytes,
        };
        let header = encode_header(&meta, tally.crc.finalize());
        file.write_all_at(&header, 0)
            .map_err(io_err("writing", &tmp))?;
        file.sync_all().map_err(io_err("syncing", &tmp))?;
        Ok(meta)
    })();
    let meta = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &path).map_err(io_err("renaming", &tmp))?;
    sync_dir(dir).map_err(io_err("syncing", dir))?;
    Ok((meta, path))
}

/// Reads only the header of the snapshot at `path`.
pub fn read_meta(path: &Path) -> Result<SnapshotMeta, SnapshotError> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    let mut h = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut h, 0)
        .map_err(io_err("reading", path))?;
    decode_header(&h)
        .map(|(m, _)| m)
        .map_err(|what| SnapshotError::Invalid {
            path: path.to_path_buf(),
            what,
        })
}

/// Loads and checks the snapshot at `path` for chain `chain_id`.
pub fn load(path: &Path, chain_id: ChainId) -> Result<(SnapshotMeta, Store), SnapshotError> {
    let invalid = |what: String| SnapshotError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let mut file = File::open(path).map_err(io_err("opening", path))?;
    let len = file.metadata().map_err(io_err("reading", path))?.len();
    let mut h = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut h, 0)
        .map_err(|e| invalid(format!("short header: {e}")))?;
    let (meta, body_crc) = decode_header(&h).map_err(invalid)?;
    if meta.chain_id != chain_id {
        return Err(invalid(format!(
            "belongs to chain {}, not {chain_id}",
            meta.chain_id
        )));
    }
    if len != HEADER_BYTES as u64 + meta.body_bytes {
        return Err(invalid(format!(
            "{len} bytes, the header promises {}",
            HEADER_BYTES as u64 + meta.body_bytes
        )));
    }
    file.seek(SeekFrom::Start(HEADER_BYTES as u64))
        .map_err(io_err("reading", path))?;
    // The CRC is taken under the buffer, over large slices.
    let mut body = BufReader::with_capacity(
        1 << 20,
        Tally {
            inner: file,
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        },
    );
    let store = Store::decode_image(&mut body).map_err(|e| invalid(e.to_string()))?;
    // The image ends where the file does (decode_image checked), so the buffer has
    // read, and the CRC covered, exactly the body.
    if body.into_inner().crc.finalize() != body_crc {
        return Err(invalid("body checksum mismatch".into()));
    }
    if store.state_digest() != meta.state_digest {
        return Err(invalid(
            "the state read back does not have the digest in the header".into(),
        ));
    }
    let dgp = store.dynamic();
    if dgp.head_block_number != meta.block_num || dgp.head_block_id != meta.block_id {
        return Err(invalid(format!(
            "holds the state at block #{}, the header says #{}",
            dgp.head_block_number, meta.block_num
        )));
    }
    Ok((meta, store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::DevChain;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("carbyne-snapshot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn chain_with_blocks(n: usize) -> DevChain {
        let mut t = DevChain::new();
        t.create_funded_account("alice", 1_000_000);
        for _ in 0..n {
            t.produce_block();
        }
        t
    }

    #[test]
    fn write_list_load() {
        let dir = tmp("wll");
        let mut t = chain_with_blocks(3);
        let copy = t.chain.store.clone_committed();
        let c = &t.chain;
        let head = c.head_block_num();
        let id = c.store.dynamic().head_block_id;
        let (meta, path) = write(&dir, &copy, head, id).unwrap();
        assert_eq!(meta.state_digest, c.state_digest());
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), file_name(head));
        assert_eq!(read_meta(&path).unwrap(), meta);
        assert_eq!(list(&dir).unwrap(), vec![(head, path.clone())]);
        let (m, store) = load(&path, c.chain_id()).unwrap();
        assert_eq!(m, meta);
        assert_eq!(store.state_digest(), c.state_digest());
        let err = load(&path, ChainId([1; 32])).err().unwrap().to_string();
        assert!(err.contains("belongs to chain"), "{err}");
    }

    #[test]
    fn every_kind_of_damage_is_detected() {
        let dir = tmp("damage");
        let t = chain_with_blocks(1);
        let c = &t.chain;
        let (_, path) = write(
            &dir,
            &c.store,
            c.head_block_num(),
            c.store.dynamic().head_block_id,
        )
        .unwrap();
        let good = std::fs::read(&path).unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", good[..good.len() - 100].to_vec()),
            ("header only", good[..HEADER_BYTES].to_vec()),
            ("empty", Vec::new()),
            ("flipped header", {
                let mut b = good.clone();
                b[41] ^= 1;
                b
            }),
            ("flipped body", {
                let mut b = good.clone();
                let n = b.len();
                b[n / 2] ^= 0x10;
                b
            }),
            ("extended", {
                let mut b = good.clone();
                b.extend_from_slice(b"xx");
                b
            }),
        ];
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let e = load(&path, c.chain_id());
            assert!(e.is_err(), "{what} loaded");
            assert!(e.err().unwrap().to_string().contains("snapshot-"), "{what}");
        }
    }

    #[test]
    fn partial_files_are_removed() {
        let dir = tmp("partial");
        std::fs::write(dir.join("snapshot-0000000005.bin.tmp"), b"half").unwrap();
        std::fs::write(dir.join(file_name(3)), b"x").unwrap();
        let removed = remove_partial(&dir).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(list(&dir).unwrap().len(), 1);
    }
}
