//! Transfers and the issuer's override transfer.

use super::{OperationBody, RequiredAuthorities};
use crate::protocol::asset::Asset;
use crate::protocol::extensions::Extensions;
use crate::protocol::ids::AccountId;
use crate::protocol::memo::Memo;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransferOperation {
    pub fee: Asset,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Asset,
    pub memo: Option<Memo>,
    pub extensions: Extensions,
}

impl OperationBody for TransferOperation {
    fn fee_payer(&self) -> AccountId {
        self.from
    }
    fn validate(&self) -> Result<(), String> {
        if self.from == self.to {
            return Err(format!("{} cannot transfer to itself", self.from));
        }
        if self.amount.amount <= 0 {
            return Err(format!("amount {} must be positive", self.amount.amount));
        }
        if let Some(m) = &self.memo {
            m.validate()?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        self.memo.as_ref().map_or(0, Memo::packed_size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OverrideTransferOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Asset,
    pub memo: Option<Memo>,
    pub extensions: Extensions,
}

impl OperationBody for OverrideTransferOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.from == self.to {
            return Err(format!("override transfer from {} to itself", self.from));
        }
        if self.from == self.issuer {
            return Err("the issuer cannot override-transfer from itself: use transfer".into());
        }
        if self.amount.amount <= 0 {
            return Err(format!("amount {} must be positive", self.amount.amount));
        }
        if let Some(m) = &self.memo {
            m.validate()?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        self.memo.as_ref().map_or(0, Memo::packed_size)
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.active.push(self.issuer);
    }
}
