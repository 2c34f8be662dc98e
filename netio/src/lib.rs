//! Carbyne's transaction ingest server: length-prefixed signed transactions over TCP.
//!
//! This release defines the frame format; the io_uring server and its portable fallback
//! arrive with the pipeline.

/// Frames are a u32 little-endian length followed by that many bytes.
pub const FRAME_HEADER_BYTES: usize = 4;
/// The largest frame accepted.
pub const FRAME_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The declared length exceeds `FRAME_BYTES_MAX`.
    TooLarge(usize),
}

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
}
