//! Stage counters. Hot loops count in plain local integers and publish them to shared
//! atomics periodically (every batch, at most every few milliseconds), so counting
//! costs the hot path no atomic traffic.

/// Declares a stage's counters: `$name` holds the shared atomics and `$local` the
/// stage's plain copy, which is also the snapshot type readers get.
macro_rules! counters {
    ($(#[$m:meta])* $name:ident / $local:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fm])* pub $field: std::sync::atomic::AtomicU64,)*
        }
        /// The stage's own copy of its counters; also what a snapshot returns.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        pub struct $local {
            $($(#[$fm])* pub $field: u64,)*
        }
        impl $name {
            /// Makes `local` visible to readers.
            pub fn publish(&self, local: &$local) {
                $(self.$field.store(local.$field, std::sync::atomic::Ordering::Relaxed);)*
            }
            pub fn snapshot(&self) -> $local {
                $local { $($field: self.$field.load(std::sync::atomic::Ordering::Relaxed),)* }
            }
        }
        impl $local {
            /// Field-wise sum (for stages with several workers).
            pub fn add(&mut self, other: &$local) {
                $(self.$field += other.$field;)*
            }
        }
    };
}
pub(crate) use counters;

/// How often a stage publishes its counters when it is busy.
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);
