//! Proposals: transactions-in-waiting that execute once enough approvals arrive.

use super::{packed_len, Operation, OperationBody, RequiredAuthorities};
use crate::protocol::asset::Asset;
use crate::protocol::extensions::Extensions;
use crate::protocol::ids::{AccountId, ProposalId};
use crate::protocol::keys::PublicKey;
use crate::protocol::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most operations one proposal may carry (the same bound as a transaction's).
pub const PROPOSED_OPS_MAX: usize = 256;
/// The most entries in each approval set of a `proposal_update`. Every approval added
/// or removed must be signed for, and a transaction carries at most 64 signatures.
pub const PROPOSAL_APPROVALS_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalCreateOperation {
    pub fee: Asset,
    pub fee_paying_account: AccountId,
    /// `now < expiration_time ≤ now + maximum_proposal_lifetime` (checked on apply).
    pub expiration_time: TimePointSec,
    pub proposed_ops: Vec<Operation>,
    /// With a review period, approvals close `review_period_seconds` before expiration
    /// and the proposal executes only at expiration. Needed (≥ the committee review
    /// period) for anything the committee account must approve.
    pub review_period_seconds: Option<u32>,
    pub extensions: Extensions,
}

impl OperationBody for ProposalCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.fee_paying_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.proposed_ops.is_empty() {
            return Err("a proposal needs at least one proposed operation".into());
        }
        if self.proposed_ops.len() > PROPOSED_OPS_MAX {
            return Err(format!(
                "{} proposed operations is more than the {PROPOSED_OPS_MAX} allowed",
                self.proposed_ops.len()
            ));
        }
        for (i, op) in self.proposed_ops.iter().enumerate() {
            op.validate()
                .map_err(|e| format!("proposed operation {i}: {e}"))?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
}

/// Adds or removes approvals. The transaction must be signed by every account (active
/// or owner) and every key whose approval it adds or removes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalUpdateOperation {
    pub fee: Asset,
    pub fee_paying_account: AccountId,
    pub proposal: ProposalId,
    pub active_approvals_to_add: BTreeSet<AccountId>,
    pub active_approvals_to_remove: BTreeSet<AccountId>,
    pub owner_approvals_to_add: BTreeSet<AccountId>,
    pub owner_approvals_to_remove: BTreeSet<AccountId>,
    pub key_approvals_to_add: BTreeSet<PublicKey>,
    pub key_approvals_to_remove: BTreeSet<PublicKey>,
    pub extensions: Extensions,
}

impl ProposalUpdateOperation {
    /// The keys whose signatures the update needs, beyond the accounts' authorities
    /// (the reference `get_required_authorities`: each key added or removed must sign).
    pub fn required_keys(&self) -> BTreeSet<PublicKey> {
        self.key_approvals_to_add
            .union(&self.key_approvals_to_remove)
            .copied()
            .collect()
    }
}

impl OperationBody for ProposalUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.fee_paying_account
    }
    fn validate(&self) -> Result<(), String> {
        let sizes = [
            (
                "active_approvals_to_add",
                self.active_approvals_to_add.len(),
            ),
            (
                "active_approvals_to_remove",
                self.active_approvals_to_remove.len(),
            ),
            ("owner_approvals_to_add", self.owner_approvals_to_add.len()),
            (
                "owner_approvals_to_remove",
                self.owner_approvals_to_remove.len(),
            ),
            ("key_approvals_to_add", self.key_approvals_to_add.len()),
            (
                "key_approvals_to_remove",
                self.key_approvals_to_remove.len(),
            ),
        ];
        for (name, len) in sizes {
            if len > PROPOSAL_APPROVALS_MAX {
                return Err(format!(
                    "{name} lists {len} entries, more than the {PROPOSAL_APPROVALS_MAX} allowed"
                ));
            }
        }
        if sizes.iter().all(|&(_, len)| len == 0) {
            return Err("nothing to do: no approval is added or removed".into());
        }
        if let Some(a) = self
            .active_approvals_to_add
            .intersection(&self.active_approvals_to_remove)
            .next()
        {
            return Err(format!("active approval of {a} is both added and removed"));
        }
        if let Some(a) = self
            .owner_approvals_to_add
            .intersection(&self.owner_approvals_to_remove)
            .next()
        {
            return Err(format!("owner approval of {a} is both added and removed"));
        }
        if let Some(k) = self
            .key_approvals_to_add
            .intersection(&self.key_approvals_to_remove)
            .next()
        {
            return Err(format!("key approval of {k} is both added and removed"));
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
    /// Key approvals are not accounts: see `required_keys`.
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.active.push(self.fee_paying_account);
        auths.active.extend(
            self.active_approvals_to_add
                .iter()
                .chain(&self.active_approvals_to_remove)
                .copied(),
        );
        auths.owner.extend(
            self.owner_approvals_to_add
                .iter()
                .chain(&self.owner_approvals_to_remove)
                .copied(),
        );
    }
}

/// Deletes a proposal; the fee payer must be one of its required approvers.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalDeleteOperation {
    pub fee: Asset,
    pub fee_paying_account: AccountId,
    /// Picks the approver set (owner or active) the fee payer is in, and the authority
    /// it signs with.
    pub using_owner_authority: bool,
    pub proposal: ProposalId,
    pub extensions: Extensions,
}

impl OperationBody for ProposalDeleteOperation {
    fn fee_payer(&self) -> AccountId {
        self.fee_paying_account
    }
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        if self.using_owner_authority {
            auths.owner.push(self.fee_paying_account);
        } else {
            auths.active.push(self.fee_paying_account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ids::AssetId;
    use crate::protocol::operations::TransferOperation;

    fn transfer(amount: i64) -> Operation {
        Operation::Transfer(TransferOperation {
            fee: Asset::core(0),
            from: AccountId(10),
            to: AccountId(11),
            amount: Asset::new(amount, AssetId(0)),
            memo: None,
            extensions: Extensions,
        })
    }

    fn create(ops: Vec<Operation>) -> ProposalCreateOperation {
        ProposalCreateOperation {
            fee: Asset::core(0),
            fee_paying_account: AccountId(12),
            expiration_time: TimePointSec(1_000_000),
            proposed_ops: ops,
            review_period_seconds: None,
            extensions: Extensions,
        }
    }

    #[test]
    fn proposal_create() {
        let op = create(vec![transfer(5)]);
        assert!(op.validate().is_ok());
        assert_eq!(op.data_size(), borsh::to_vec(&op).unwrap().len());
        assert!(create(vec![])
            .validate()
            .unwrap_err()
            .contains("at least one"));
        let err = create(vec![transfer(5), transfer(0)])
            .validate()
            .unwrap_err();
        assert!(
            err.contains("proposed operation 1") && err.contains("transfer"),
            "{err}"
        );
        assert!(create(vec![transfer(1); PROPOSED_OPS_MAX + 1])
            .validate()
            .unwrap_err()
            .contains("more than"));
        // Only the fee payer is needed to create; the inner ops' authorities approve later.
        let mut auths = RequiredAuthorities::default();
        op.required_authorities(&mut auths);
        assert_eq!(
            auths,
            RequiredAuthorities {
                active: smallvec::smallvec![AccountId(12)],
                owner: smallvec::smallvec![]
            }
        );
        // Nested proposals validate recursively.
        let nested = create(vec![Operation::ProposalCreate(create(vec![transfer(0)]))]);
        assert!(nested.validate().is_err());
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(
            serde_json::from_str::<ProposalCreateOperation>(&json).unwrap(),
            op
        );
    }

    #[test]
    fn operation_codecs_round_trip() {
        use crate::protocol::operations::{WorkerCreateOperation, WorkerInitializer};
        let worker = Operation::WorkerCreate(WorkerCreateOperation {
            fee: Asset::core(0),
            owner: AccountId(10),
            work_begin_date: TimePointSec(10),
            work_end_date: TimePointSec(20),
            daily_pay: 1,
            name: "w".into(),
            url: String::new(),
            initializer: WorkerInitializer::Burn,
        });
        let op = Operation::ProposalCreate(create(vec![transfer(5), worker]));
        assert!(op.validate().is_ok());
        let bytes = borsh::to_vec(&op).unwrap();
        assert_eq!(bytes[0], 22);
        assert_eq!(Operation::try_from_slice(&bytes).unwrap(), op);
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json[0], serde_json::json!(22));
        assert_eq!(json[1]["proposed_ops"][1][0], serde_json::json!(34));
        assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), op);
    }

    fn update() -> ProposalUpdateOperation {
        ProposalUpdateOperation {
            fee: Asset::core(0),
            fee_paying_account: AccountId(12),
            proposal: ProposalId(0),
            active_approvals_to_add: BTreeSet::new(),
            active_approvals_to_remove: BTreeSet::new(),
            owner_approvals_to_add: BTreeSet::new(),
            owner_approvals_to_remove: BTreeSet::new(),
            key_approvals_to_add: BTreeSet::new(),
            key_approvals_to_remove: BTreeSet::new(),
            extensions: Extensions,
        }
    }

    #[test]
    fn proposal_update() {
        assert!(update().validate().unwrap_err().contains("nothing to do"));
        let mut op = update();
        op.active_approvals_to_add.insert(AccountId(10));
        op.owner_approvals_to_remove.insert(AccountId(11));
        op.key_approvals_to_add.insert(PublicKey([1; 32]));
        assert!(op.validate().is_ok());
        let mut auths = RequiredAuthorities::default();
        op.required_authorities(&mut auths);
        assert_eq!(auths.active.as_slice(), &[AccountId(12), AccountId(10)]);
        assert_eq!(auths.owner.as_slice(), &[AccountId(11)]);
        assert_eq!(op.required_keys(), [PublicKey([1; 32])].into());

        let mut both = op.clone();
        both.active_approvals_to_remove.insert(AccountId(10));
        assert!(both
            .validate()
            .unwrap_err()
            .contains("both added and removed"));
        let mut both = op.clone();
        both.owner_approvals_to_add.insert(AccountId(11));
        assert!(both.validate().unwrap_err().contains("owner approval"));
        let mut both = op.clone();
        both.key_approvals_to_remove.insert(PublicKey([1; 32]));
        assert!(both.validate().unwrap_err().contains("key approval"));
        let mut many = update();
        many.active_approvals_to_add = (0..=PROPOSAL_APPROVALS_MAX as u64).map(AccountId).collect();
        assert!(many.validate().unwrap_err().contains("more than"));
    }

    #[test]
    fn proposal_delete() {
        let op = ProposalDeleteOperation {
            fee: Asset::core(0),
            fee_paying_account: AccountId(12),
            using_owner_authority: true,
            proposal: ProposalId(3),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut auths = RequiredAuthorities::default();
        op.required_authorities(&mut auths);
        assert_eq!(
            auths,
            RequiredAuthorities {
                active: smallvec::smallvec![],
                owner: smallvec::smallvec![AccountId(12)]
            }
        );
        let active = ProposalDeleteOperation {
            using_owner_authority: false,
            ..op.clone()
        };
        let mut auths = RequiredAuthorities::default();
        active.required_authorities(&mut auths);
        assert_eq!(
            auths,
            RequiredAuthorities {
                active: smallvec::smallvec![AccountId(12)],
                owner: smallvec::smallvec![]
            }
        );
        let mut bad = op;
        bad.fee.amount = -1;
        assert!(Operation::ProposalDelete(bad).validate().is_err());
    }
}
