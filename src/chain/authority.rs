//! Authority verification by key id (the reference `sign_state`).
//!
//! Each required account must be satisfied: owners by their owner authority, actives by
//! their active or owner authority. Weights sum over signing keys and over accounts that
//! are themselves satisfied, recursing at most `max_authority_depth` levels (default 2).
//! A cycle can never be satisfied through itself: recursion stops at the depth limit.
//! Every signature must be used by some authority, or the transaction is refused.

use super::error::TxError;
use super::objects::{CompiledAuthority, KeyId};
use super::store::Store;
use super::verified::Signer;
use super::Chain;
use crate::protocol::authority::Authority;
use crate::protocol::ids::AccountId;
use crate::protocol::operations::RequiredAuthorities;
use crate::protocol::transaction::SIGNATURES_PER_TRANSACTION_MAX;

/// Walks authorities against a fixed set of signing keys.
pub struct SignState<'a> {
    store: &'a Store,
    keys: &'a [KeyId],
    /// Which signatures some authority used (fixed size: no allocation per check).
    used: [bool; SIGNATURES_PER_TRANSACTION_MAX],
    /// Accounts already satisfied (memo; stays unallocated on the key-only fast path).
    approved: Vec<AccountId>,
    max_depth: u8,
}

impl<'a> SignState<'a> {
    pub fn new(store: &'a Store, keys: &'a [KeyId], max_depth: u8) -> Self {
        assert!(
            keys.len() <= SIGNATURES_PER_TRANSACTION_MAX,
            "the verify stage bounds signatures"
        );
        SignState {
            store,
            keys,
            used: [false; SIGNATURES_PER_TRANSACTION_MAX],
            approved: Vec::new(),
            max_depth,
        }
    }

    /// temp-account is pre-approved: anybody may act for it.
    fn is_approved(&self, account: AccountId) -> bool {
        account == AccountId::TEMP || self.approved.contains(&account)
    }

    fn signed_by(&mut self, key: KeyId) -> bool {
        match self.keys.iter().position(|k| *k == key) {
            Some(i) => {
                self.used[i] = true;
                true
            }
            None => false,
        }
    }

    /// Returns as soon as the threshold is met (later keys stay unused, as in the
    /// reference, so surplus signatures are refused).
    pub fn check(&mut self, auth: &CompiledAuthority, depth: u8) -> bool {
        let mut total: u64 = 0;
        let threshold = auth.threshold as u64;
        if threshold == 0 {
            return true;
        }
        for &(key, weight) in &auth.keys {
            if self.signed_by(key) {
                total += weight as u64;
                if total >= threshold {
                    return true;
                }
            }
        }
        for &(account, weight) in &auth.accounts {
            let ok = if self.is_approved(account) {
                true
            } else if depth >= self.max_depth {
                false
            } else {
                self.check_account(account, depth + 1)
            };
            if ok {
                total += weight as u64;
                if total >= threshold {
                    return true;
                }
            }
        }
        total >= threshold
    }

    /// Active, then owner (`allow_non_immediate_owner`).
    fn check_account(&mut self, account: AccountId, depth: u8) -> bool {
        let Some(obj) = self.store.account(account) else {
            return false;
        };
        let ok = self.check(&obj.active_compiled, depth) || self.check(&obj.owner_compiled, depth);
        if ok {
            self.approved.push(account);
        }
        ok
    }

    /// Index of the first signature no authority used.
    pub fn first_unused(&self) -> Option<usize> {
        self.used[..self.keys.len()].iter().position(|u| !u)
    }
}

impl Chain {
    /// Resolves a signer key to its key id: the verify stage's hint checked with one
    /// array read, else an ordered-index lookup. Unregistered keys give `None`: they can
    /// satisfy nothing and are reported as irrelevant.
    pub(crate) fn resolve_signer(&self, s: &Signer) -> Option<KeyId> {
        let hinted = s
            .key_id
            .filter(|k| self.store.keys.get(k.0 as u64) == Some(&s.key));
        hinted.or_else(|| self.store.key_index.get(&s.key).copied())
    }

    /// Checks that `signers` satisfy `required` and that no signature is surplus.
    pub fn verify_authority(
        &self,
        required: &RequiredAuthorities,
        signers: &[Signer],
    ) -> Result<(), TxError> {
        if required.active.contains(&AccountId::COMMITTEE)
            || required.owner.contains(&AccountId::COMMITTEE)
        {
            return Err(TxError::CommitteeNeedsProposal);
        }
        if signers.len() > SIGNATURES_PER_TRANSACTION_MAX {
            return Err(TxError::Shape(
                crate::protocol::transaction::TransactionShapeError::TooManySignatures(
                    signers.len(),
                ),
            ));
        }
        // Resolve into a stack buffer; remember the first unregistered key.
        let mut buf = [KeyId(0); SIGNATURES_PER_TRANSACTION_MAX];
        let (mut count, mut unregistered) = (0usize, None);
        for (i, s) in signers.iter().enumerate() {
            match self.resolve_signer(s) {
                Some(k) => {
                    buf[count] = k;
                    count += 1;
                }
                None => unregistered = unregistered.or(Some(i)),
            }
        }
        let keys = &buf[..count];
        let state = self.satisfy(required, keys)?;
        // Surplus: an unregistered key, or a registered one no authority needed.
        if let Some(i) = unregistered {
            return Err(TxError::IrrelevantSignature {
                key: signers[i].key.to_string(),
            });
        }
        if let Some(unused) = state.first_unused() {
            let key = self
                .store
                .keys
                .get(keys[unused].0 as u64)
                .copied()
                .unwrap_or_default();
            return Err(TxError::IrrelevantSignature {
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Walks `required` with the signing `keys`; the state tells which keys were used.
    fn satisfy<'s>(
        &'s self,
        required: &RequiredAuthorities,
        keys: &'s [KeyId],
    ) -> Result<SignState<'s>, TxError> {
        let max_depth = self.store.global().parameters.max_authority_depth;
        let mut state = SignState::new(&self.store, keys, max_depth);
        for &account in &required.owner {
            let obj = self
                .store
                .account(account)
                .ok_or_else(|| missing(self, account, "owner"))?;
            if !state.check(&obj.owner_compiled, 0) {
                return Err(missing(self, account, "owner"));
            }
        }
        for &account in &required.active {
            let obj = self
                .store
                .account(account)
                .ok_or_else(|| missing(self, account, "active"))?;
            let satisfied = state.is_approved(account)
                || state.check(&obj.active_compiled, 0)
                || state.check(&obj.owner_compiled, 0);
            if !satisfied {
                return Err(missing(self, account, "active"));
            }
        }
        Ok(state)
    }

    /// The smallest subset of `available` whose signatures satisfy `required` with
    /// none surplus (`get_required_signatures`). Unregistered keys can satisfy nothing
    /// and are left out; so are keys beyond the per-transaction signature maximum.
    pub fn required_signatures(
        &self,
        required: &RequiredAuthorities,
        available: &[crate::protocol::PublicKey],
    ) -> Result<Vec<crate::protocol::PublicKey>, TxError> {
        if required.active.contains(&AccountId::COMMITTEE)
            || required.owner.contains(&AccountId::COMMITTEE)
        {
            return Err(TxError::CommitteeNeedsProposal);
        }
        let mut keys: Vec<KeyId> = Vec::new();
        for key in available {
            if let Some(id) = self.key_id(key) {
                if !keys.contains(&id) && keys.len() < SIGNATURES_PER_TRANSACTION_MAX {
                    keys.push(id);
                }
            }
        }
        self.satisfy(required, &keys)?;
        // Drop each key the rest can do without. What remains is minimal, so every
        // key in it is used (an unused key could have been dropped).
        let mut i = 0;
        while i < keys.len() {
            let mut without = keys.clone();
            without.remove(i);
            if self.satisfy(required, &without).is_ok() {
                keys = without;
            } else {
                i += 1;
            }
        }
        Ok(keys.iter().filter_map(|k| self.key_by_id(*k)).collect())
    }

    /// Every key that could take part in satisfying `required`: the keys of the
    /// required accounts' active and owner authorities and, down to
    /// `max_authority_depth`, of the accounts those authorities name
    /// (`get_potential_signatures`). Sorted, without duplicates.
    pub fn potential_signatures(
        &self,
        required: &RequiredAuthorities,
    ) -> Vec<crate::protocol::PublicKey> {
        let max_depth = self.store.global().parameters.max_authority_depth;
        let mut keys: Vec<KeyId> = Vec::new();
        let mut seen: Vec<AccountId> = Vec::new();
        let mut frontier: Vec<AccountId> = required
            .owner
            .iter()
            .chain(required.active.iter())
            .copied()
            .collect();
        for _ in 0..=max_depth {
            let mut next = Vec::new();
            for account in frontier {
                if seen.contains(&account) {
                    continue;
                }
                seen.push(account);
                let Some(obj) = self.store.account(account) else {
                    continue;
                };
                for auth in [&obj.active_compiled, &obj.owner_compiled] {
                    keys.extend(auth.keys.iter().map(|(k, _)| *k));
                    next.extend(auth.accounts.iter().map(|(a, _)| *a));
                }
            }
            frontier = next;
        }
        let mut out: Vec<_> = keys.iter().filter_map(|k| self.key_by_id(*k)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Registers every key of `auth` and returns its compiled form.
    pub(crate) fn compile_authority(&mut self, auth: &Authority) -> CompiledAuthority {
        let mut keys: Vec<(KeyId, u16)> = auth
            .key_auths
            .iter()
            .map(|(k, w)| (self.register_key(*k), *w))
            .collect();
        keys.sort_unstable();
        CompiledAuthority {
            threshold: auth.weight_threshold,
            keys,
            accounts: auth.account_auths.iter().map(|(a, w)| (*a, *w)).collect(),
        }
    }

    pub(crate) fn register_key(&mut self, key: crate::protocol::PublicKey) -> KeyId {
        if let Some(id) = self.store.key_index.get(&key) {
            return *id;
        }
        let id =
            KeyId(u32::try_from(self.store.keys.next_instance()).expect("fewer than 2^32 keys"));
        self.store.keys.create(key);
        self.store.key_index.insert(key, id);
        id
    }
}

fn missing(chain: &Chain, account: AccountId, level: &'static str) -> TxError {
    TxError::MissingAuthority {
        account: chain.account_label(account),
        level,
    }
}
