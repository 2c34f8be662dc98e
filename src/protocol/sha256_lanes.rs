//! SHA-256 over many independent messages at once.
//!
//! One SHA-256 compression is a chain of 64 dependent rounds, so a single stream runs
//! at the latency of the SHA extensions' round instruction and leaves most of the unit
//! idle. Four independent streams interleaved in one loop fill it: on this project's
//! Zen 4 machines a block costs about 40 ns alone and 19 ns per lane with four lanes
//! (`docs/BENCHMARKS.md`, thirteenth part of issue 3; `cargo bench --bench decode --
//! sha256` compares the three digests of a transfer). The verify stage hashes a whole
//! batch of transactions (three digests each) and the block producer a merkle level
//! this way.
//!
//! The lanes use the x86-64 SHA extensions when the CPU has them (checked once at run
//! time); otherwise each block goes through the `sha2` crate's compression, one lane
//! after another. Both give exactly `sha2::Sha256`'s digests: the property tests
//! below compare them on random messages of every length around the block edges.

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Lanes hashed together.
pub const LANES: usize = 4;

/// A message given as the concatenation of two parts (either may be empty).
pub type Parts<'a> = [&'a [u8]; 2];

/// `out[i] = SHA-256(msgs[i][0] ‖ msgs[i][1])` for every `i`, hashing up to
/// [`LANES`] messages at a time. Panics if the lengths differ.
pub fn sha256_many(msgs: &[Parts<'_>], out: &mut [[u8; 32]]) {
    sha256_many_with(backend(), msgs, out)
}

/// One merkle level over the front of `level`: `level[i] = SHA-256(level[2i] ‖
/// level[2i + 1])` for `i < pairs`, the pairs hashed [`LANES`] at a time (a pair is
/// one 64-byte block and the constant padding block). Entries from index `pairs` on
/// are left as they were.
pub fn merkle_level_in_place(level: &mut [[u8; 32]], pairs: usize) {
    assert!(2 * pairs <= level.len(), "merkle level: not enough leaves");
    let b = backend();
    let mut i = 0;
    while i < pairs {
        let n = (pairs - i).min(LANES);
        let mut states = [SHA256_IV; LANES];
        let mut blocks = [[0u8; 64]; LANES];
        for (l, block) in blocks.iter_mut().enumerate().take(n) {
            block[..32].copy_from_slice(&level[2 * (i + l)]);
            block[32..].copy_from_slice(&level[2 * (i + l) + 1]);
        }
        let refs: [&[u8; 64]; LANES] = std::array::from_fn(|l| &blocks[l]);
        compress(b, &mut states[..n], &refs[..n]);
        compress(b, &mut states[..n], &[&PAD_64; LANES][..n]);
        // This group read its inputs above; later groups read from 2(i + n) on, past
        // every index written so far (< i + n).
        for (l, state) in states.iter().enumerate().take(n) {
            level[i + l] = digest_bytes(state);
        }
        i += n;
    }
}

/// The padding block of a 64-byte message: the 1 bit, zeros, and the length, 512 bits.
const PAD_64: [u8; 64] = {
    let mut b = [0u8; 64];
    b[0] = 0x80;
    b[62] = 0x02;
    b
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// The x86-64 SHA extensions, lanes interleaved.
    #[cfg(target_arch = "x86_64")]
    ShaNi,
    /// `sha2`'s compression, lane after lane.
    Portable,
}

fn backend() -> Backend {
    #[cfg(target_arch = "x86_64")]
    {
        // std caches the CPUID answer; this is one relaxed load.
        if std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
        {
            return Backend::ShaNi;
        }
    }
    Backend::Portable
}

fn digest_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// One block into each of `states` (at most [`LANES`]).
fn compress(backend: Backend, states: &mut [[u32; 8]], blocks: &[&[u8; 64]]) {
    debug_assert_eq!(states.len(), blocks.len());
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `backend()` chose `ShaNi` only where the CPU has the SHA, SSSE3 and
        // SSE4.1 extensions that `shani::compress` is compiled for.
        Backend::ShaNi => unsafe {
            match states.len() {
                4 => shani::compress::<4>(states.try_into().unwrap(), blocks.try_into().unwrap()),
                3 => shani::compress::<3>(states.try_into().unwrap(), blocks.try_into().unwrap()),
                2 => shani::compress::<2>(states.try_into().unwrap(), blocks.try_into().unwrap()),
                1 => shani::compress::<1>(states.try_into().unwrap(), blocks.try_into().unwrap()),
                0 => {}
                n => unreachable!("{n} lanes"),
            }
        },
        Backend::Portable => {
            for (state, block) in states.iter_mut().zip(blocks) {
                sha2::block_api::compress256(state, &[**block]);
            }
        }
    }
}

/// Where one lane is in its message.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    parts: Parts<'a>,
    /// Index of the message (and of its digest in `out`).
    index: usize,
    /// Bytes of the padded message already compressed (a multiple of 64).
    pos: usize,
    /// Length of the message, and of the padded message.
    len: usize,
    padded: usize,
}

impl<'a> Cursor<'a> {
    fn new(parts: Parts<'a>, index: usize) -> Self {
        let len = parts[0].len() + parts[1].len();
        Cursor {
            parts,
            index,
            pos: 0,
            len,
            padded: (len + 9).div_ceil(64) * 64,
        }
    }

    /// The next block: in place when it lies inside one part, else assembled in `buf`
    /// (a block across the parts, or one with padding).
    fn block<'b>(&self, buf: &'b mut [u8; 64]) -> &'b [u8; 64]
    where
        'a: 'b,
    {
        let [p0, p1] = self.parts;
        let pos = self.pos;
        if let Some(b) = p0.get(pos..pos + 64) {
            return b.try_into().expect("64 bytes");
        }
        if let Some(b) = pos.checked_sub(p0.len()).and_then(|o| p1.get(o..o + 64)) {
            return b.try_into().expect("64 bytes");
        }
        *buf = [0; 64];
        let end = self.len.min(pos + 64);
        let mut at = pos;
        while at < end {
            let (part, off) = if at < p0.len() {
                (p0, at)
            } else {
                (p1, at - p0.len())
            };
            let take = (part.len() - off).min(end - at);
            buf[at - pos..at - pos + take].copy_from_slice(&part[off..off + take]);
            at += take;
        }
        if (pos..pos + 64).contains(&self.len) {
            buf[self.len - pos] = 0x80;
        }
        if pos + 64 == self.padded {
            buf[56..].copy_from_slice(&((self.len as u64) * 8).to_be_bytes());
        }
        buf
    }
}

fn sha256_many_with(backend: Backend, msgs: &[Parts<'_>], out: &mut [[u8; 32]]) {
    assert_eq!(msgs.len(), out.len(), "sha256_many: one digest per message");
    let mut cursors: [Option<Cursor>; LANES] = [None; LANES];
    let mut states = [SHA256_IV; LANES];
    let mut next = 0;
    // Lanes 0..active hold messages; the rest are free.
    let mut active = 0;
    while active < LANES && next < msgs.len() {
        cursors[active] = Some(Cursor::new(msgs[next], next));
        active += 1;
        next += 1;
    }
    let mut bufs = [[0u8; 64]; LANES];
    while active > 0 {
        {
            let [b0, b1, b2, b3] = &mut bufs;
            let zero = [0u8; 64];
            let mut blocks: [&[u8; 64]; LANES] = [&zero; LANES];
            for ((slot, cursor), buf) in blocks
                .iter_mut()
                .zip(&cursors)
                .zip([b0, b1, b2, b3])
                .take(active)
            {
                *slot = cursor.as_ref().expect("active lane").block(buf);
            }
            compress(backend, &mut states[..active], &blocks[..active]);
        }
        let mut l = 0;
        while l < active {
            let c = cursors[l].as_mut().expect("active lane");
            c.pos += 64;
            if c.pos < c.padded {
                l += 1;
                continue;
            }
            out[c.index] = digest_bytes(&states[l]);
            if next < msgs.len() {
                cursors[l] = Some(Cursor::new(msgs[next], next));
                states[l] = SHA256_IV;
                next += 1;
                l += 1;
            } else {
                // Keep the busy lanes at the front.
                active -= 1;
                cursors[l] = cursors[active].take();
                states[l] = states[active];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use core::arch::x86_64::*;

    /// SHA-256's round constants (FIPS 180-4, 4.2.2).
    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// One block into each of `N` independent states, the lanes' rounds interleaved.
    ///
    /// The instructions keep the working variables as two vectors, ABEF and CDGH;
    /// `sha256rnds2` does two rounds, `sha256msg1`/`sha256msg2` extend the message
    /// schedule four words at a time.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn compress<const N: usize>(
        states: &mut [[u32; 8]; N],
        blocks: &[&[u8; 64]; N],
    ) {
        // Big-endian words from the block's bytes.
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        let mut abef = [_mm_setzero_si128(); N];
        let mut cdgh = [_mm_setzero_si128(); N];
        let mut w = [[_mm_setzero_si128(); 4]; N];
        for l in 0..N {
            // SAFETY (loads): the state is 8 u32s and the block 64 bytes; unaligned loads.
            let dcba = _mm_loadu_si128(states[l].as_ptr().cast());
            let hgfe = _mm_loadu_si128(states[l].as_ptr().add(4).cast());
            let cdab = _mm_shuffle_epi32(dcba, 0xB1);
            let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
            abef[l] = _mm_alignr_epi8(cdab, efgh, 8);
            cdgh[l] = _mm_blend_epi16(efgh, cdab, 0xF0);
            for (j, wj) in w[l].iter_mut().enumerate() {
                let bytes = _mm_loadu_si128(blocks[l].as_ptr().add(16 * j).cast());
                *wj = _mm_shuffle_epi8(bytes, swap);
            }
        }
        let (abef0, cdgh0) = (abef, cdgh);
        for i in 0..16 {
            let k = _mm_loadu_si128(K.as_ptr().add(4 * i).cast());
            for l in 0..N {
                // w[l] holds the last four groups of schedule words, W[i-4]..W[i-1] at
                // indices i, i+1, i+2, i+3 (mod 4).
                let wi = if i < 4 {
                    w[l][i]
                } else {
                    let w = &mut w[l];
                    let s0 = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
                    let s = _mm_add_epi32(s0, _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
                    let next = _mm_sha256msg2_epu32(s, w[(i + 3) % 4]);
                    w[i % 4] = next;
                    next
                };
                let wk = _mm_add_epi32(wi, k);
                cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(wk, 0x0E));
            }
        }
        for l in 0..N {
            let abef = _mm_add_epi32(abef[l], abef0[l]);
            let cdgh = _mm_add_epi32(cdgh[l], cdgh0[l]);
            let feba = _mm_shuffle_epi32(abef, 0x1B);
            let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
            let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
            let hgfe = _mm_alignr_epi8(dchg, feba, 8);
            _mm_storeu_si128(states[l].as_mut_ptr().cast(), dcba);
            _mm_storeu_si128(states[l].as_mut_ptr().add(4).cast(), hgfe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::sha256;
    use proptest::prelude::*;

    fn backends() -> Vec<Backend> {
        let mut b = vec![Backend::Portable];
        if backend() != Backend::Portable {
            b.push(backend());
        }
        b
    }

    #[test]
    fn known_digests() {
        // FIPS 180-2 appendix B: "abc" and the two-block message.
        let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        for b in backends() {
            let mut out = [[0u8; 32]; 3];
            sha256_many_with(b, &[[b"ab", b"c"], [two, b""], [b"", b""]], &mut out);
            assert_eq!(
                hex::encode(out[0]),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            assert_eq!(
                hex::encode(out[1]),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            );
            assert_eq!(
                hex::encode(out[2]),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            );
        }
    }

    #[test]
    fn every_length_around_the_block_edges() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        // Each length split at several places, so blocks cross the parts at every offset.
        let mut msgs = Vec::new();
        for len in 0..=200usize {
            for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1), len] {
                let cut = cut.min(len);
                msgs.push([&data[..cut], &data[cut..len]]);
            }
        }
        for b in backends() {
            let mut out = vec![[0u8; 32]; msgs.len()];
            sha256_many_with(b, &msgs, &mut out);
            for (m, d) in msgs.iter().zip(&out) {
                assert_eq!(
                    *d,
                    sha256(m),
                    "{b:?}, {} + {} bytes",
                    m[0].len(),
                    m[1].len()
                );
            }
        }
    }

    #[test]
    fn a_merkle_level_is_the_pairs_hashes() {
        for n in 0..=11usize {
            let leaves: Vec<[u8; 32]> = (0..2 * n as u8 + 1).map(|i| [i; 32]).collect();
            let mut level = leaves.clone();
            merkle_level_in_place(&mut level, n);
            for i in 0..n {
                assert_eq!(
                    level[i],
                    sha256(&[&leaves[2 * i], &leaves[2 * i + 1]]),
                    "{n}, {i}"
                );
            }
            // The rest of the buffer is untouched.
            assert_eq!(level[2 * n], leaves[2 * n]);
        }
    }

    proptest! {
        #[test]
        fn random_messages_match_sha2(
            msgs in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..200),
                 proptest::collection::vec(any::<u8>(), 0..200)),
                0..13),
        ) {
            let parts: Vec<Parts> = msgs.iter().map(|(a, b)| [&a[..], &b[..]]).collect();
            for b in backends() {
                let mut out = vec![[0u8; 32]; parts.len()];
                sha256_many_with(b, &parts, &mut out);
                for (m, d) in parts.iter().zip(&out) {
                    prop_assert_eq!(*d, sha256(m));
                }
            }
        }
    }
}
