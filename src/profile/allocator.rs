//! The process allocator's (mimalloc's) settings that a profile controls.
//!
//! Only one so far: how long freed memory is kept before it goes back to the OS. The
//! pipeline frees and allocates again, every block, buffers sized by the block (its
//! transactions, their answers, the merkle leaves: tens of MB a second at 100k TPS).
//! When they go back to the OS between blocks they come back as fresh pages, each a
//! page fault and a page of zeroing; `docs/BENCHMARKS.md` has what that costs.

use std::os::raw::c_long;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (`mimalloc.h`); the Rust
/// bindings name only some options. `purge_delay_option_is_the_one` checks it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's purge delay in ms: 0 returns freed memory at once, -1 never.
/// Not synchronised with allocations on other threads: call it before starting them.
pub fn set_purge_delay_ms(ms: i64) {
    let ms = c_long::try_from(ms.max(-1)).unwrap_or(c_long::MAX);
    // SAFETY: mi_option_set stores one value in mimalloc's option table; the option
    // index is in range (`_mi_option_last` is larger), and every value is valid for
    // this option (negative means "never").
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) }
}

/// mimalloc's purge delay now, in ms (-1: never).
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads one entry of mimalloc's option table; the index is in range.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_option_is_the_one() {
        // mimalloc 3 documents a default purge delay of 1000 ms, and no other option
        // with an index near it defaults to 1000: a renumbered enum fails here.
        // (MIMALLOC_PURGE_DELAY in the environment would change the default.)
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
        let before = purge_delay_ms();
        set_purge_delay_ms(-1);
        assert_eq!(purge_delay_ms(), -1);
        set_purge_delay_ms(-5);
        assert_eq!(purge_delay_ms(), -1, "every negative value means never");
        set_purge_delay_ms(before);
        assert_eq!(purge_delay_ms(), before);
    }
}
