//! The accounts an operation concerns (the reference `operation_get_impacted_accounts`),
//! for per-account history: the fee payer, every account the operation names, and the
//! accounts inside authorities it sets. Stateless: an object the operation creates
//! (a new account) is added by the caller from the operation's result.

use super::{Operation, RequiredAuthorities};
use crate::protocol::authority::Authority;
use crate::protocol::ids::AccountId;

fn authority(a: &Authority, out: &mut Vec<AccountId>) {
    out.extend(a.account_auths.keys().copied());
}

/// Appends the accounts `op` impacts to `out`, sorted and without duplicates.
pub fn impacted_accounts(op: &Operation, out: &mut Vec<AccountId>) {
    let start = out.len();
    out.push(op.fee_payer());
    use Operation as O;
    match op {
        O::Transfer(o) => out.extend([o.from, o.to]),
        O::OverrideTransfer(o) => out.extend([o.issuer, o.from, o.to]),
        O::AccountCreate(o) => {
            out.extend([o.registrar, o.referrer]);
            authority(&o.owner, out);
            authority(&o.active, out);
        }
        O::AccountUpdate(o) => {
            out.push(o.account);
            if let Some(a) = &o.owner {
                authority(a, out);
            }
            if let Some(a) = &o.active {
                authority(a, out);
            }
        }
        O::AccountWhitelist(o) => out.extend([o.authorizing_account, o.account_to_list]),
        O::AccountUpgrade(o) => out.push(o.account_to_upgrade),
        O::AccountTransfer(o) => {
            out.push(o.account_id);
            authority(&o.new_owner, out);
            authority(&o.new_active, out);
        }
        O::AssetCreate(o) => out.push(o.issuer),
        O::AssetUpdate(o) => {
            out.push(o.issuer);
            out.extend(o.new_issuer);
        }
        O::AssetUpdateIssuer(o) => out.extend([o.issuer, o.new_issuer]),
        O::AssetIssue(o) => out.extend([o.issuer, o.issue_to_account]),
        O::AssetReserve(o) => out.push(o.payer),
        O::AssetFundFeePool(o) => out.push(o.from_account),
        O::AssetClaimFees(o) => out.push(o.issuer),
        O::AssetClaimPool(o) => out.push(o.issuer),
        // Operations whose evaluators come with later features: the fee payer and
        // the accounts whose authority they need.
        _ => {
            let mut r = RequiredAuthorities::default();
            op.required_authorities(&mut r);
            out.extend(r.active.iter().chain(r.owner.iter()).copied());
        }
    }
    out[start..].sort_unstable();
    let mut kept = start;
    for i in start..out.len() {
        if kept == start || out[i] != out[kept - 1] {
            out[kept] = out[i];
            kept += 1;
        }
    }
    out.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::operations::{AccountCreateOperation, AccountOptions, TransferOperation};
    use crate::protocol::{Asset, PublicKey};

    #[test]
    fn a_transfer_impacts_both_ends_once() {
        let op = Operation::Transfer(TransferOperation {
            fee: Asset::core(1),
            from: AccountId(20),
            to: AccountId(17),
            amount: Asset::core(5),
            memo: None,
            extensions: Default::default(),
        });
        let mut out = vec![AccountId(99)];
        impacted_accounts(&op, &mut out);
        assert_eq!(out, [AccountId(99), AccountId(17), AccountId(20)]);
        let self_transfer = Operation::Transfer(TransferOperation {
            fee: Asset::core(1),
            from: AccountId(20),
            to: AccountId(20),
            amount: Asset::core(5),
            memo: None,
            extensions: Default::default(),
        });
        let mut out = vec![];
        impacted_accounts(&self_transfer, &mut out);
        assert_eq!(out, [AccountId(20)]);
    }

    #[test]
    fn account_creation_impacts_registrar_referrer_and_authority_accounts() {
        let mut owner = Authority::single_key(PublicKey([7; 32]));
        owner.account_auths.insert(AccountId(30), 1);
        let op = Operation::AccountCreate(AccountCreateOperation {
            fee: Asset::core(1),
            registrar: AccountId(17),
            referrer: AccountId(18),
            referrer_percent: 0,
            name: "bob".into(),
            owner,
            active: Authority::single_account(AccountId(31)),
            options: AccountOptions::new(PublicKey([7; 32])),
            extensions: Default::default(),
        });
        let mut out = vec![];
        impacted_accounts(&op, &mut out);
        assert_eq!(
            out,
            [AccountId(17), AccountId(18), AccountId(30), AccountId(31)]
        );
    }
}
