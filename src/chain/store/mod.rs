//! The in-memory object store: typed tables indexed by instance, ordered secondary
//! indexes, nested undo sessions and the state digest.
//!
//! Owns: every piece of consensus state. Never does: I/O, clock reads, hashing on the
//! apply path (the digest is computed on demand by callers outside the BLP loop).

pub mod dedup;
pub mod id_table;
pub mod image;
pub mod journal;

/// Asks the CPU to start loading the cache lines of `*value`, without waiting for
/// them: a hint with no effect on results (it does nothing off x86-64).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_bytes(value as *const T as *const u8, std::mem::size_of::<T>());
}

/// [`prefetch`] of the `len` bytes at `at`, which need not be readable: a prefetch
/// never faults.
#[inline(always)]
pub fn prefetch_bytes(at: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let last = at.wrapping_add(len.saturating_sub(1)) as usize & !63;
        let mut line = at as usize & !63;
        while line <= last {
            // SAFETY: a prefetch reads nothing architecturally and never faults, so any
            // address is allowed.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, len);
}

/// Asks the kernel to back the whole 2 MiB pages among the `len` bytes at `at` with
/// huge pages (transparent huge pages, which hosts often give only to memory that asks
/// for them). For tables far larger than what the TLB covers with 4 KiB pages, a
/// random lookup then costs one miss to memory instead of a miss and a page walk. A
/// hint, ignored where unsupported; it must come before the memory is first touched.
pub fn advise_huge_pages(at: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    let start = (at as usize).saturating_add(HUGE - 1) & !(HUGE - 1);
    let end = (at as usize).saturating_add(len) & !(HUGE - 1);
    if end <= start {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: advice over whole pages of one live allocation; MADV_HUGEPAGE changes
        // how the pages are backed, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

use crate::chain::objects::*;
use crate::protocol::ids::*;
use crate::protocol::PublicKey;
use borsh::BorshSerialize;
use dedup::TransactionDedup;
use journal::{Journaled, Table, UndoMap};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

/// One account's balance objects by asset, sorted; inline for up to two assets so the
/// hot path reads no extra heap block.
pub type BalanceIndexRow = smallvec::SmallVec<[(AssetId, AccountBalanceId); 2]>;

/// TaPoS ring size: block summaries are indexed by `block_num & 0xFFFF`.
pub const BLOCK_SUMMARY_RING: usize = 65_536;
const _: () = assert!(BLOCK_SUMMARY_RING.is_power_of_two());

macro_rules! store {
    ($($field:ident : $ty:ty),* $(,)?) => {
        /// All consensus state.
        #[derive(Default)]
        pub struct Store {
            $(pub $field: $ty,)*
            /// The immutable chain properties (2.11.0), set once at genesis.
            pub chain_property: Option<ChainPropertyObject>,
            sessions: VecDeque<Marks>,
        }

        /// Journal positions of every table at the start of a session.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        struct Marks {
            $($field: usize,)*
        }

        impl Store {
            fn marks(&self) -> Marks {
                Marks { $($field: self.$field.mark(),)* }
            }
            fn rollback(&mut self, m: &Marks) {
                $(self.$field.rollback_to(m.$field);)*
            }
            fn forget(&mut self, m: &Marks) {
                $(self.$field.forget_before(m.$field);)*
            }
        }
    };
}

store! {
    accounts: Table<AccountObject>,
    account_stats: Table<AccountStatisticsObject>,
    balances: Table<AccountBalanceObject>,
    // Per account instance: its balance objects, sorted by asset.
    balance_index: Table<BalanceIndexRow>,
    assets: Table<AssetObject>,
    asset_dynamic: Table<AssetDynamicDataObject>,
    bitassets: Table<BitassetDataObject>,
    witnesses: Table<WitnessObject>,
    committee_members: Table<CommitteeMemberObject>,
    global: Table<GlobalPropertyObject>,
    dynamic: Table<DynamicGlobalPropertyObject>,
    schedule: Table<WitnessScheduleObject>,
    block_summaries: Table<BlockSummaryObject>,
    keys: Table<PublicKey>,
    key_index: UndoMap<PublicKey, KeyId>,
    account_by_name: UndoMap<String, AccountId>,
    asset_by_symbol: UndoMap<String, AssetId>,
    witness_by_account: UndoMap<AccountId, WitnessId>,
    committee_by_account: UndoMap<AccountId, CommitteeMemberId>,
    dedup: TransactionDedup,
}

impl Store {
    /// Opens a nested undo session.
    pub fn start_session(&mut self) {
        let m = self.marks();
        self.sessions.push_back(m);
    }
    /// Undoes everything since the newest session began and closes it.
    pub fn undo_session(&mut self) {
        let m = self
            .sessions
            .pop_back()
            .expect("undo_session without an open session");
        self.rollback(&m);
    }
    /// Closes the newest session, keeping its changes; they can still be undone as part
    /// of the enclosing session.
    pub fn merge_session(&mut self) {
        self.sessions
            .pop_back()
            .expect("merge_session without an open session");
    }
    /// Open sessions (blocks kept for undo, plus any transaction session).
    pub fn session_depth(&self) -> usize {
        self.sessions.len()
    }
    /// Makes the oldest `n` sessions permanent: their history is dropped.
    pub fn commit_oldest(&mut self, n: usize) {
        assert!(
            n <= self.sessions.len(),
            "commit of more sessions than are open"
        );
        for _ in 0..n {
            self.sessions.pop_front();
        }
        let keep_from = self
            .sessions
            .front()
            .copied()
            .unwrap_or_else(|| self.marks());
        self.forget(&keep_from);
    }
    /// Drops all undo history (after genesis, or when nothing may be undone).
    pub fn commit_all(&mut self) {
        let n = self.sessions.len();
        self.commit_oldest(n);
    }

    // --- Singletons: created at genesis, so their absence is a broken invariant. ---

    pub fn global(&self) -> &GlobalPropertyObject {
        self.global
            .get(0)
            .expect("global properties exist after genesis")
    }
    pub fn dynamic(&self) -> &DynamicGlobalPropertyObject {
        self.dynamic
            .get(0)
            .expect("dynamic global properties exist after genesis")
    }
    pub fn modify_dynamic<R>(
        &mut self,
        f: impl FnOnce(&mut DynamicGlobalPropertyObject) -> R,
    ) -> R {
        self.dynamic
            .modify(0, f)
            .expect("dynamic global properties exist after genesis")
    }
    pub fn modify_global<R>(&mut self, f: impl FnOnce(&mut GlobalPropertyObject) -> R) -> R {
        self.global
            .modify(0, f)
            .expect("global properties exist after genesis")
    }
    pub fn witness_schedule(&self) -> &WitnessScheduleObject {
        self.schedule
            .get(0)
            .expect("witness schedule exists after genesis")
    }

    pub fn account(&self, id: AccountId) -> Option<&AccountObject> {
        self.accounts.get(id.0)
    }
    pub fn asset(&self, id: AssetId) -> Option<&AssetObject> {
        self.assets.get(id.0)
    }
    pub fn asset_dynamic_data(&self, asset: &AssetObject) -> &AssetDynamicDataObject {
        self.asset_dynamic
            .get(asset.dynamic_asset_data_id.0)
            .expect("every asset has dynamic data")
    }

    /// The balance object id of `owner` in `asset`, if one exists.
    pub fn balance_id(&self, owner: AccountId, asset: AssetId) -> Option<AccountBalanceId> {
        let idx = self.balance_index.get(owner.0)?;
        // Most accounts hold a handful of assets: a linear scan beats a binary search.
        idx.iter().find(|(a, _)| *a == asset).map(|(_, b)| *b)
    }
    pub fn balance(&self, owner: AccountId, asset: AssetId) -> i64 {
        self.balance_id(owner, asset)
            .and_then(|b| self.balances.get(b.0))
            .map_or(0, |b| b.balance)
    }

    /// Hash over the canonical encoding of every object, table by table in a fixed
    /// order, rows in instance order. Derived indexes are left out: they are functions
    /// of the tables.
    pub fn state_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut buf = Vec::new();
        fn table<T: BorshSerialize + Clone>(
            h: &mut Sha256,
            buf: &mut Vec<u8>,
            tag: &str,
            t: &Table<T>,
        ) {
            h.update(tag.as_bytes());
            h.update((t.capacity_rows() as u64).to_le_bytes());
            for (i, row) in t.iter() {
                h.update(i.to_le_bytes());
                buf.clear();
                row.serialize(buf).expect("encoding into a Vec cannot fail");
                h.update(&buf[..]);
            }
        }
        table(&mut h, &mut buf, "accounts", &self.accounts);
        table(&mut h, &mut buf, "account_stats", &self.account_stats);
        table(&mut h, &mut buf, "balances", &self.balances);
        table(&mut h, &mut buf, "assets", &self.assets);
        table(&mut h, &mut buf, "asset_dynamic", &self.asset_dynamic);
        table(&mut h, &mut buf, "bitassets", &self.bitassets);
        table(&mut h, &mut buf, "witnesses", &self.witnesses);
        table(
            &mut h,
            &mut buf,
            "committee_members",
            &self.committee_members,
        );
        table(&mut h, &mut buf, "global", &self.global);
        table(&mut h, &mut buf, "dynamic", &self.dynamic);
        table(&mut h, &mut buf, "schedule", &self.schedule);
        table(&mut h, &mut buf, "block_summaries", &self.block_summaries);
        table(&mut h, &mut buf, "keys", &self.keys);
        h.update(b"chain_property");
        h.update(borsh::to_vec(&self.chain_property).expect("encoding into a Vec cannot fail"));
        h.update(b"dedup");
        for (exp, id) in self.dedup.iter_ordered() {
            h.update(exp.0.to_le_bytes());
            h.update(id.0);
        }
        h.finalize().into()
    }
}
