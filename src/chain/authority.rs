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

/// Walks authorities against a fixed set of signing keys.
pub struct SignState<'a> {
    store: &'a Store,
    keys: &'a [KeyId],
    used: Vec<bool>,
    approved: Vec<AccountId>,
    max_depth: u8,
}

impl<'a> SignState<'a> {
    pub fn new(store: &'a Store, keys: &'a [KeyId], max_depth: u8) -> Self {
        SignState {
            store,
            keys,
            used: vec![false; keys.len()],
            // temp-account is pre-approved: anybody may act for it.
            approved: vec![AccountId::TEMP],
            max_depth,
        }
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
            let ok = if self.approved.contains(&account) {
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
        self.used.iter().position(|u| !u)
    }
}

impl Chain {
    /// Resolves signer keys to key ids. Unregistered keys come back as `None`: they can
    /// satisfy nothing and will be reported as irrelevant.
    pub(crate) fn resolve_signers(&self, signers: &[Signer], out: &mut Vec<Option<KeyId>>) {
        out.clear();
        for s in signers {
            let hinted = s
                .key_id
                .filter(|k| self.store.keys.get(k.0 as u64) == Some(&s.key));
            out.push(hinted.or_else(|| self.store.key_index.get(&s.key).copied()));
        }
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
        let mut resolved = Vec::with_capacity(signers.len());
        self.resolve_signers(signers, &mut resolved);
        let keys: Vec<KeyId> = resolved.iter().flatten().copied().collect();
        let max_depth = self.store.global().parameters.max_authority_depth;
        let mut state = SignState::new(&self.store, &keys, max_depth);
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
            let satisfied = state.approved.contains(&account)
                || state.check(&obj.active_compiled, 0)
                || state.check(&obj.owner_compiled, 0);
            if !satisfied {
                return Err(missing(self, account, "active"));
            }
        }
        // Surplus: an unregistered key, or a registered one no authority needed.
        if let Some(i) = resolved.iter().position(Option::is_none) {
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
