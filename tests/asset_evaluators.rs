//! Asset evaluators and the fee machinery, with exact balances, supplies, fees and
//! pool amounts worked out by hand from the rules (SEMANTICS §2b, §2e).
//!
//! Every rejected push goes through `rejected`, which also checks that the state digest
//! did not move: a failed transaction changes nothing.

use carbyne::chain::evaluators::OperationResult;
use carbyne::chain::genesis::dev_key;
use carbyne::chain::objects::{AccountStatisticsObject, AssetDynamicDataObject, AssetObject};
use carbyne::chain::{EvalError, TxError, TxReceipt};
use carbyne::pipeline::verify::{verify_transaction, VerifyError};
use carbyne::protocol::extensions::Extensions;
use carbyne::protocol::fees::P;
use carbyne::protocol::memo::Memo;
use carbyne::protocol::operations::*;
use carbyne::protocol::transaction::TransactionShapeError;
use carbyne::protocol::*;
use carbyne::test_utils::DevChain;
use std::collections::BTreeSet;

/// One CORE in satoshis.
const C: i64 = P as i64;
/// 100 CORE: fees above it go to `pending_fees`, the others to `pending_vested_fees`.
const CASHBACK_THRESHOLD: i64 = 100 * C;

// Flat fees from the default schedule (SEMANTICS §2b).
const TRANSFER_FEE: i64 = 20 * C;
const ISSUE_FEE: i64 = 20 * C;
const RESERVE_FEE: i64 = 20 * C;
const FUND_POOL_FEE: i64 = C;
const CLAIM_POOL_FEE: i64 = 20 * C;
const CLAIM_FEES_FEE: i64 = 20 * C;
const UPDATE_ISSUER_FEE: i64 = 20 * C;
const OVERRIDE_FEE: i64 = 20 * C;
const WHITELIST_FEE: i64 = 300_000;
const LIFETIME_UPGRADE_FEE: i64 = 10_000 * C;

/// The five user-issued-asset bits that are the reference default permissions.
const DEFAULT_UIA_PERMS: u16 = flags::CHARGE_MARKET_FEE
    | flags::WHITE_LIST
    | flags::OVERRIDE_AUTHORITY
    | flags::TRANSFER_RESTRICTED
    | flags::DISABLE_CONFIDENTIAL;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

struct Acct {
    id: AccountId,
    key: PrivateKey,
}

fn funded(dc: &mut DevChain, name: &str, core: i64) -> Acct {
    let key = dc.create_funded_account(name, core);
    Acct {
        id: dc.id(name),
        key,
    }
}

fn core_bal(dc: &DevChain, a: AccountId) -> i64 {
    dc.chain.balance(a, AssetId::CORE)
}

fn asset(dc: &DevChain, id: AssetId) -> AssetObject {
    dc.chain.store.asset(id).expect("asset exists").clone()
}

fn dyn_data(dc: &DevChain, id: AssetId) -> AssetDynamicDataObject {
    let a = dc.chain.store.asset(id).expect("asset exists");
    dc.chain.store.asset_dynamic_data(a).clone()
}

fn opts_of(dc: &DevChain, id: AssetId) -> AssetOptions {
    asset(dc, id).options
}

fn stats(dc: &DevChain, a: AccountId) -> AccountStatisticsObject {
    let s = dc
        .chain
        .store
        .account(a)
        .expect("account exists")
        .statistics;
    dc.chain.store.account_stats.get(s.0).unwrap().clone()
}

/// Options of a user-issued asset; the CER is 1 CORE sat : 1 asset sat (the non-core
/// side is a placeholder the evaluator replaces with the new asset's id).
fn uia_options(max_supply: i64, perms: u16, fl: u16) -> AssetOptions {
    AssetOptions {
        max_supply,
        market_fee_percent: 0,
        max_market_fee: 0,
        issuer_permissions: perms,
        flags: fl,
        core_exchange_rate: Price::new(Asset::core(1), Asset::new(1, AssetId(1))),
        whitelist_authorities: BTreeSet::new(),
        blacklist_authorities: BTreeSet::new(),
        whitelist_markets: BTreeSet::new(),
        blacklist_markets: BTreeSet::new(),
        description: String::new(),
        extensions: Extensions,
    }
}

fn create_op(
    issuer: AccountId,
    symbol: &str,
    precision: u8,
    opts: AssetOptions,
) -> AssetCreateOperation {
    AssetCreateOperation {
        fee: Asset::core(0),
        issuer,
        symbol: symbol.into(),
        precision,
        common_options: opts,
        bitasset_opts: None,
        is_prediction_market: false,
        extensions: Extensions,
    }
}

/// The asset_create fee by hand: 500000 / 300000 / 5000 CORE for 3 / 4 / 5+ character
/// symbols, plus 10 satoshis per KiB of the packed operation, rounded down.
fn asset_create_fee(op: &AssetCreateOperation) -> i64 {
    let base = match op.symbol.len() {
        3 => 500_000 * C,
        4 => 300_000 * C,
        _ => 5000 * C,
    };
    let size = borsh::object_length(op).unwrap() as i64;
    base + size * 10 / 1024
}

/// The asset_update fee by hand: 500 CORE plus 10 satoshis per KiB of the packed op.
fn asset_update_fee(op: &AssetUpdateOperation) -> i64 {
    let size = borsh::object_length(op).unwrap() as i64;
    500 * C + size * 10 / 1024
}

/// Creates an asset paying exactly the hand-computed fee; returns its id.
fn create_asset(dc: &mut DevChain, issuer: &Acct, mut op: AssetCreateOperation) -> AssetId {
    op.fee = Asset::core(asset_create_fee(&op));
    let symbol = op.symbol.clone();
    let r = dc
        .push_ops(vec![Operation::AssetCreate(op)], &[&issuer.key])
        .expect("asset created");
    let id = dc
        .chain
        .asset_id_by_symbol(&symbol)
        .expect("symbol indexed");
    assert_eq!(
        r.results.as_slice(),
        &[OperationResult::Object(id.object_id())]
    );
    id
}

fn issue_op(issuer: AccountId, amount: Asset, to: AccountId) -> Operation {
    Operation::AssetIssue(AssetIssueOperation {
        fee: Asset::core(ISSUE_FEE),
        issuer,
        asset_to_issue: amount,
        issue_to_account: to,
        memo: None,
        extensions: Extensions,
    })
}

fn transfer_op(from: AccountId, to: AccountId, amount: Asset, fee: Asset) -> Operation {
    Operation::Transfer(TransferOperation {
        fee,
        from,
        to,
        amount,
        memo: None,
        extensions: Extensions,
    })
}

fn reserve_op(payer: AccountId, amount: Asset) -> Operation {
    Operation::AssetReserve(AssetReserveOperation {
        fee: Asset::core(RESERVE_FEE),
        payer,
        amount_to_reserve: amount,
        extensions: Extensions,
    })
}

fn whitelist_op(by: AccountId, listed: AccountId, listing: u8) -> Operation {
    Operation::AccountWhitelist(AccountWhitelistOperation {
        fee: Asset::core(WHITELIST_FEE),
        authorizing_account: by,
        account_to_list: listed,
        new_listing: listing,
        extensions: Extensions,
    })
}

fn upgrade_op(a: AccountId) -> Operation {
    Operation::AccountUpgrade(AccountUpgradeOperation {
        fee: Asset::core(LIFETIME_UPGRADE_FEE),
        account_to_upgrade: a,
        upgrade_to_lifetime_member: true,
        extensions: Extensions,
    })
}

fn update_op(issuer: AccountId, asset: AssetId, new_options: AssetOptions) -> AssetUpdateOperation {
    let mut op = AssetUpdateOperation {
        fee: Asset::core(0),
        issuer,
        asset_to_update: asset,
        new_issuer: None,
        new_options,
        extensions: Extensions,
    };
    op.fee = Asset::core(asset_update_fee(&op));
    op
}

/// Pushes a transaction that must be refused, checks that the state digest did not
/// change, and returns the error.
fn rejected(dc: &mut DevChain, ops: Vec<Operation>, keys: &[&PrivateKey]) -> TxError {
    let before = dc.chain.state_digest();
    let err = dc
        .push_ops(ops, keys)
        .expect_err("the transaction must be refused");
    assert_eq!(
        dc.chain.state_digest(),
        before,
        "a refused transaction must leave no trace ({err})"
    );
    err
}

/// `rejected` for a one-operation transaction; returns the operation's error.
fn rejected_op(dc: &mut DevChain, op: Operation, key: &PrivateKey) -> EvalError {
    let name = op.name();
    match rejected(dc, vec![op], &[key]) {
        TxError::Operation { index, op, error } => {
            assert_eq!((index, op), (0, name));
            error
        }
        other => panic!("expected an operation error, got {other:?}"),
    }
}

fn ok(r: Result<TxReceipt, TxError>) -> TxReceipt {
    r.unwrap_or_else(|e| panic!("expected success, got {e}"))
}

/// Runs the verify stage; the stateless `validate()` failure of operation 0 comes back.
fn validation_error(dc: &DevChain, op: Operation, key: &PrivateKey) -> ValidationError {
    let signed = dc.sign(dc.transaction(vec![op]), &[key]);
    match verify_transaction(signed, &dc.chain.chain_id(), &dc.chain) {
        Err(VerifyError::Shape(TransactionShapeError::Operation { index: 0, error })) => error,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// asset_create
// ---------------------------------------------------------------------------------------

#[test]
fn asset_create_fee_is_split_between_fee_pool_and_pending_fees() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);

    let mut opts = uia_options(10_000_000_000, DEFAULT_UIA_PERMS, 0);
    // A description long enough to make the data fee non-zero and the total fee odd, so
    // that "half, rounded down" is visible.
    opts.description = "d".repeat(700);
    let mut op = create_op(issuer.id, "TOKEN", 4, opts);
    let size = borsh::object_length(&op).unwrap() as i64;
    let data_fee = size * 10 / 1024;
    assert!(data_fee > 0);
    let fee = 5000 * C + data_fee;
    assert_eq!(fee % 2, 1, "pick a description that makes the fee odd");
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AssetCreate(op.clone()))
            .unwrap(),
        fee
    );

    // One satoshi short is refused.
    op.fee = Asset::core(fee - 1);
    let err = rejected_op(&mut dc, Operation::AssetCreate(op.clone()), &issuer.key);
    assert_eq!(
        err,
        EvalError::InsufficientFee {
            required: format!("{}.{:05} CORE", fee / C, fee % C),
            paid: format!("{}.{:05} CORE", (fee - 1) / C, (fee - 1) % C),
        }
    );

    let before = core_bal(&dc, issuer.id);
    let stats_before = stats(&dc, issuer.id);
    assert_eq!(
        (stats_before.pending_fees, stats_before.pending_vested_fees),
        (0, 0)
    );
    let id = create_asset(&mut dc, &issuer, op);

    // Debited in full.
    assert_eq!(core_bal(&dc, issuer.id), before - fee);
    assert_eq!(before - fee, 10_000 * C - 5000 * C - data_fee);
    // Half, rounded down, seeds the pool.
    let d = dyn_data(&dc, id);
    assert_eq!(d.fee_pool, (5000 * C + data_fee) / 2);
    assert_eq!(d.fee_pool, 250_000_000 + (data_fee - 1) / 2);
    assert_eq!((d.current_supply, d.accumulated_fees), (0, 0));
    // The other (larger) half is the issuer's paid fee; it is above the 100 CORE
    // threshold, so it waits in pending_fees.
    let s = stats(&dc, issuer.id);
    assert_eq!(s.pending_fees, fee - d.fee_pool);
    assert_eq!(s.pending_fees, d.fee_pool + 1);
    assert!(s.pending_fees > CASHBACK_THRESHOLD);
    assert_eq!(s.pending_vested_fees, 0);

    // The asset object: the CER's non-core side names the new asset.
    let a = asset(&dc, id);
    assert_eq!(id, AssetId(1));
    assert_eq!(
        (a.symbol.as_str(), a.precision, a.issuer),
        ("TOKEN", 4, issuer.id)
    );
    assert_eq!(
        a.options.core_exchange_rate,
        Price::new(Asset::core(1), Asset::new(1, id))
    );
    assert_eq!(a.options.issuer_permissions, DEFAULT_UIA_PERMS);

    // The pool seed is still in circulation: core supply is unchanged.
    dc.produce_block();
    assert_eq!(
        dyn_data(&dc, AssetId::CORE).current_supply,
        1_000_000_000 * C
    );
}

#[test]
fn asset_create_three_and_four_character_symbols_pay_more() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 900_000 * C);

    let op3 = create_op(issuer.id, "ABC", 2, uia_options(1_000_000, 0, 0));
    let op4 = create_op(issuer.id, "ABCD", 2, uia_options(1_000_000, 0, 0));
    // Same layout except the symbol: 3 and 4 bytes, each far below 1 KiB.
    let size3 = borsh::object_length(&op3).unwrap() as i64;
    let size4 = borsh::object_length(&op4).unwrap() as i64;
    assert_eq!(size4, size3 + 1);
    assert!(size4 < 1024);
    let fee3 = 500_000 * C + size3 * 10 / 1024;
    let fee4 = 300_000 * C + size4 * 10 / 1024;
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AssetCreate(op3.clone()))
            .unwrap(),
        fee3
    );
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AssetCreate(op4.clone()))
            .unwrap(),
        fee4
    );

    // The long-symbol price does not buy a 4-character symbol.
    let mut cheap = op4.clone();
    cheap.fee = Asset::core(5000 * C);
    let err = rejected_op(&mut dc, Operation::AssetCreate(cheap), &issuer.key);
    assert_eq!(
        err,
        EvalError::InsufficientFee {
            required: format!("300000.{:05} CORE", fee4 - 300_000 * C),
            paid: "5000.00000 CORE".into()
        }
    );

    let abc = create_asset(&mut dc, &issuer, op3);
    let abcd = create_asset(&mut dc, &issuer, op4);
    assert_eq!(core_bal(&dc, issuer.id), 900_000 * C - fee3 - fee4);
    assert_eq!(dyn_data(&dc, abc).fee_pool, fee3 / 2);
    assert_eq!(dyn_data(&dc, abcd).fee_pool, fee4 / 2);
    assert_eq!(
        stats(&dc, issuer.id).pending_fees,
        (fee3 - fee3 / 2) + (fee4 - fee4 / 2)
    );
}

#[test]
fn asset_create_symbol_rules() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 100_000 * C);
    let other = funded(&mut dc, "other", 100_000 * C);
    let opts = || uia_options(1_000_000, DEFAULT_UIA_PERMS, 0);

    let token = create_asset(&mut dc, &issuer, create_op(issuer.id, "TOKEN", 0, opts()));

    // Symbol taken, whoever asks.
    for who in [&issuer, &other] {
        let mut op = create_op(who.id, "TOKEN", 0, opts());
        op.fee = Asset::core(asset_create_fee(&op));
        let err = rejected_op(&mut dc, Operation::AssetCreate(op), &who.key);
        assert_eq!(err, EvalError::SymbolTaken("TOKEN".into()));
    }

    // X.Y only by the issuer of X.
    let mut sub = create_op(other.id, "TOKEN.SUB", 0, opts());
    sub.fee = Asset::core(
        dc.chain
            .required_fee(&Operation::AssetCreate(sub.clone()))
            .unwrap(),
    );
    let err = rejected_op(&mut dc, Operation::AssetCreate(sub), &other.key);
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("issuer") && m.contains("TOKEN.SUB")),
        "{err}"
    );
    // ... and X must exist.
    let mut orphan = create_op(issuer.id, "NOPE.SUB", 0, opts());
    orphan.fee = Asset::core(
        dc.chain
            .required_fee(&Operation::AssetCreate(orphan.clone()))
            .unwrap(),
    );
    let err = rejected_op(&mut dc, Operation::AssetCreate(orphan), &issuer.key);
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("NOPE")),
        "{err}"
    );

    let mut sub = create_op(issuer.id, "TOKEN.SUB", 0, opts());
    sub.fee = Asset::core(
        dc.chain
            .required_fee(&Operation::AssetCreate(sub.clone()))
            .unwrap(),
    );
    let before = core_bal(&dc, issuer.id);
    // A sub-asset pays the account_transfer fee (500 CORE) plus the data fee.
    let sub_size = borsh::object_length(&sub).unwrap() as i64;
    assert_eq!(sub.fee.amount, 500 * C + sub_size * 10 / 1024);
    let fee = sub.fee.amount;
    ok(dc.push_ops(vec![Operation::AssetCreate(sub)], &[&issuer.key]));
    let sub_id = dc.chain.asset_id_by_symbol("TOKEN.SUB").unwrap();
    assert_ne!(sub_id, token);
    assert_eq!(asset(&dc, sub_id).issuer, issuer.id);
    assert_eq!(core_bal(&dc, issuer.id), before - fee);
    assert_eq!(dyn_data(&dc, sub_id).fee_pool, fee / 2);

    // Invalid symbols never reach the chain.
    for bad in ["AB", "BITUSD", "tok", "A.B.C", "TOK-EN"] {
        let op = Operation::AssetCreate(create_op(issuer.id, bad, 0, opts()));
        let e = validation_error(&dc, op, &issuer.key);
        assert_eq!(e.op, "asset_create");
    }
}

#[test]
fn asset_create_validate_rules() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 100_000 * C);
    let check = |op: AssetCreateOperation| Operation::AssetCreate(op).validate();

    // Precision: 12 is the maximum.
    assert!(check(create_op(issuer.id, "PREC", 12, uia_options(1000, 0, 0))).is_ok());
    let e = check(create_op(issuer.id, "PREC", 13, uia_options(1000, 0, 0))).unwrap_err();
    assert!(e.reason.contains("precision"), "{e}");
    let e = validation_error(
        &dc,
        Operation::AssetCreate(create_op(issuer.id, "PREC", 13, uia_options(1000, 0, 0))),
        &issuer.key,
    );
    assert!(e.reason.contains("precision 13"), "{e}");

    // As in the reference, a flag needs no permission at creation (it just cannot be
    // changed later); permission-only bits can never be flags.
    assert!(check(create_op(
        issuer.id,
        "FLAG",
        0,
        uia_options(1000, flags::CHARGE_MARKET_FEE, flags::WHITE_LIST),
    ))
    .is_ok());
    let e = check(create_op(
        issuer.id,
        "FLAG",
        0,
        uia_options(1000, DEFAULT_UIA_PERMS, flags::GLOBAL_SETTLE),
    ))
    .unwrap_err();
    assert!(e.reason.contains("permission-only"), "{e}");
    assert!(check(create_op(
        issuer.id,
        "FLAG",
        0,
        uia_options(1000, flags::WHITE_LIST, flags::WHITE_LIST)
    ))
    .is_ok());

    // A user-issued asset may only use the UIA bits, as permission or as flag.
    for bit in [
        flags::DISABLE_FORCE_SETTLE,
        flags::GLOBAL_SETTLE,
        flags::WITNESS_FED_ASSET,
        flags::COMMITTEE_FED_ASSET,
        flags::DISABLE_MCR_UPDATE,
    ] {
        let e = check(create_op(
            issuer.id,
            "MASK",
            0,
            uia_options(1000, DEFAULT_UIA_PERMS | bit, 0),
        ))
        .unwrap_err();
        assert!(!e.reason.is_empty(), "permission {bit:#x}");
        let e = check(create_op(
            issuer.id,
            "MASK",
            0,
            uia_options(1000, DEFAULT_UIA_PERMS | bit, bit),
        ))
        .unwrap_err();
        assert!(!e.reason.is_empty(), "flag {bit:#x}");
    }
    // Every UIA bit is fine.
    assert!(check(create_op(
        issuer.id,
        "MASK",
        0,
        uia_options(1000, flags::UIA_MASK, flags::UIA_MASK)
    ))
    .is_ok());

    // White/black list authorities need the white_list flag.
    let mut opts = uia_options(1000, DEFAULT_UIA_PERMS, 0);
    opts.whitelist_authorities.insert(issuer.id);
    assert!(check(create_op(issuer.id, "LIST", 0, opts.clone())).is_err());
    opts.flags = flags::WHITE_LIST;
    assert!(check(create_op(issuer.id, "LIST", 0, opts)).is_ok());

    // Supply bounds and the CER.
    assert!(check(create_op(issuer.id, "SUPP", 0, uia_options(0, 0, 0))).is_err());
    assert!(check(create_op(
        issuer.id,
        "SUPP",
        0,
        uia_options(1_000_000_000_000_001, 0, 0)
    ))
    .is_err());
    let mut opts = uia_options(1000, 0, 0);
    opts.core_exchange_rate = Price::new(Asset::new(1, AssetId(1)), Asset::new(1, AssetId(2)));
    assert!(check(create_op(issuer.id, "CERX", 0, opts)).is_err());

    // The stateful list checks: the listed authority must exist.
    let mut opts = uia_options(1000, DEFAULT_UIA_PERMS, flags::WHITE_LIST);
    opts.whitelist_authorities.insert(AccountId(9999));
    let mut op = create_op(issuer.id, "GHOST", 0, opts);
    op.fee = Asset::core(asset_create_fee(&op));
    let err = rejected_op(&mut dc, Operation::AssetCreate(op), &issuer.key);
    assert_eq!(err, EvalError::UnknownAccount("1.2.9999".into()));
}

// ---------------------------------------------------------------------------------------
// asset_issue
// ---------------------------------------------------------------------------------------

#[test]
fn asset_issue_supply_and_receiver() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "TOKEN",
            3,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    let base = core_bal(&dc, issuer.id);
    let vested_before = stats(&dc, issuer.id).pending_vested_fees;

    let op = issue_op(issuer.id, Asset::new(400_000, tok), bob.id);
    assert_eq!(dc.chain.required_fee(&op).unwrap(), ISSUE_FEE);
    ok(dc.push_ops(vec![op], &[&issuer.key]));
    assert_eq!(dc.chain.balance(bob.id, tok), 400_000);
    assert_eq!(dyn_data(&dc, tok).current_supply, 400_000);
    assert_eq!(core_bal(&dc, issuer.id), base - ISSUE_FEE);
    // 20 CORE is not above the 100 CORE threshold: it is a vested fee.
    assert_eq!(
        stats(&dc, issuer.id).pending_vested_fees,
        vested_before + ISSUE_FEE
    );

    // With a memo the fee grows by 1 CORE per KiB of the packed memo, rounded down:
    // (32 + 32 + 8 + 4 + 100) bytes * 100000 / 1024 = 17187.5.
    let memo = Memo {
        from: issuer.key.public_key(),
        to: bob.key.public_key(),
        nonce: 7,
        message: vec![0xab; 100],
    };
    let Operation::AssetIssue(mut with_memo) =
        issue_op(issuer.id, Asset::new(100_000, tok), bob.id)
    else {
        unreachable!()
    };
    with_memo.memo = Some(memo);
    let memo_fee = ISSUE_FEE + 17_187;
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AssetIssue(with_memo.clone()))
            .unwrap(),
        memo_fee
    );
    let short = AssetIssueOperation {
        fee: Asset::core(ISSUE_FEE),
        ..with_memo.clone()
    };
    let err = rejected_op(&mut dc, Operation::AssetIssue(short), &issuer.key);
    assert_eq!(
        err,
        EvalError::InsufficientFee {
            required: "20.17187 CORE".into(),
            paid: "20.00000 CORE".into()
        }
    );
    with_memo.fee = Asset::core(memo_fee);
    ok(dc.push_ops(vec![Operation::AssetIssue(with_memo)], &[&issuer.key]));
    assert_eq!(dc.chain.balance(bob.id, tok), 500_000);
    assert_eq!(core_bal(&dc, issuer.id), base - ISSUE_FEE - memo_fee);

    // Up to max_supply exactly, not one satoshi more.
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(500_001, tok), issuer.id),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("1000.001 TOKEN") && m.contains("1000.000 TOKEN")),
        "{err}"
    );
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(500_000, tok), issuer.id)],
        &[&issuer.key],
    ));
    assert_eq!(dyn_data(&dc, tok).current_supply, 1_000_000);
    assert_eq!(dc.chain.balance(issuer.id, tok), 500_000);
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(1, tok), bob.id),
        &issuer.key,
    );
    assert!(matches!(err, EvalError::Rule(_)), "{err}");

    // Only the issuer issues.
    let err = rejected_op(
        &mut dc,
        issue_op(bob.id, Asset::new(1, tok), bob.id),
        &bob.key,
    );
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "bob".into(),
            asset: "TOKEN".into(),
            issuer: "issuer".into()
        }
    );

    // The core asset cannot be issued (validate).
    let e = validation_error(
        &dc,
        issue_op(issuer.id, Asset::core(1), bob.id),
        &issuer.key,
    );
    assert_eq!(e.op, "asset_issue");
}

#[test]
fn asset_issue_to_non_whitelisted_receiver_is_refused() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 1000 * C);
    // `dev` is a lifetime member from genesis: it may whitelist.
    let dev = dev_key();
    let dev_id = dc.id("dev");
    let mut opts = uia_options(1_000_000, DEFAULT_UIA_PERMS, flags::WHITE_LIST);
    opts.whitelist_authorities.insert(dev_id);
    let wl = create_asset(&mut dc, &issuer, create_op(issuer.id, "WLIST", 0, opts));
    ok(dc.push_ops(vec![whitelist_op(dev_id, bob.id, LISTING_WHITE)], &[&dev]));

    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(10, wl), bob.id)],
        &[&issuer.key],
    ));
    assert_eq!(dc.chain.balance(bob.id, wl), 10);
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(10, wl), carol.id),
        &issuer.key,
    );
    assert_eq!(
        err,
        EvalError::NotAuthorizedForAsset {
            account: "carol".into(),
            asset: "WLIST".into()
        }
    );
    assert_eq!(dc.chain.balance(carol.id, wl), 0);
    assert_eq!(dyn_data(&dc, wl).current_supply, 10);
}

// ---------------------------------------------------------------------------------------
// asset_reserve
// ---------------------------------------------------------------------------------------

#[test]
fn asset_reserve_burns_supply() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 25 * C);
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "TOKEN",
            4,
            uia_options(10_000_000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(1_000, tok), bob.id)],
        &[&issuer.key],
    ));

    // A user-issued asset.
    let bob_core = core_bal(&dc, bob.id);
    let op = reserve_op(bob.id, Asset::new(400, tok));
    assert_eq!(dc.chain.required_fee(&op).unwrap(), RESERVE_FEE);
    ok(dc.push_ops(vec![op], &[&bob.key]));
    assert_eq!(dc.chain.balance(bob.id, tok), 600);
    assert_eq!(dyn_data(&dc, tok).current_supply, 600);
    assert_eq!(core_bal(&dc, bob.id), bob_core - RESERVE_FEE);

    // More than the balance: the message names the account and formatted amounts.
    let err = rejected_op(&mut dc, reserve_op(bob.id, Asset::new(601, tok)), &bob.key);
    assert_eq!(
        err,
        EvalError::InsufficientBalance {
            account: "bob".into(),
            has: "0.0600 TOKEN".into(),
            needs: "0.0601 TOKEN".into()
        }
    );

    // CORE: reserving returns it to the reserve, so core's current supply shrinks by the
    // amount (the fee is not burned).
    let core_supply = dyn_data(&dc, AssetId::CORE).current_supply;
    let bob_core = core_bal(&dc, bob.id);
    ok(dc.push_ops(vec![reserve_op(bob.id, Asset::core(10 * C))], &[&bob.key]));
    assert_eq!(
        dyn_data(&dc, AssetId::CORE).current_supply,
        core_supply - 10 * C
    );
    assert_eq!(core_bal(&dc, bob.id), bob_core - 10 * C - RESERVE_FEE);

    // carol has 25 CORE; after the 20 CORE fee, 5 remain, short of 10.
    let err = rejected_op(
        &mut dc,
        reserve_op(carol.id, Asset::core(10 * C)),
        &carol.key,
    );
    assert_eq!(
        err,
        EvalError::InsufficientBalance {
            account: "carol".into(),
            has: "5.00000 CORE".into(),
            needs: "10.00000 CORE".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "insufficient balance: carol has 5.00000 CORE, needs 10.00000 CORE"
    );
    assert_eq!(core_bal(&dc, carol.id), 25 * C);
    ok(dc.push_ops(
        vec![reserve_op(carol.id, Asset::core(5 * C))],
        &[&carol.key],
    ));
    assert_eq!(core_bal(&dc, carol.id), 0);
    assert_eq!(
        dyn_data(&dc, AssetId::CORE).current_supply,
        core_supply - 10 * C - 5 * C
    );
}

// ---------------------------------------------------------------------------------------
// Fee pool: fund, claim; fees paid in a non-core asset; claiming accumulated fees
// ---------------------------------------------------------------------------------------

#[test]
fn fund_and_claim_fee_pool() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);
    let bob = funded(&mut dc, "bob", 2000 * C);
    let mut op = create_op(
        issuer.id,
        "POOLED",
        0,
        uia_options(1_000_000, DEFAULT_UIA_PERMS, 0),
    );
    let create_fee = asset_create_fee(&op);
    op.fee = Asset::core(create_fee);
    let tok = create_asset(&mut dc, &issuer, op);
    let seed = create_fee / 2;
    assert_eq!(dyn_data(&dc, tok).fee_pool, seed);

    // Anyone may fund the pool.
    let fund = Operation::AssetFundFeePool(AssetFundFeePoolOperation {
        fee: Asset::core(FUND_POOL_FEE),
        from_account: bob.id,
        asset_id: tok,
        amount: 1000 * C,
        extensions: Extensions,
    });
    assert_eq!(dc.chain.required_fee(&fund).unwrap(), FUND_POOL_FEE);
    ok(dc.push_ops(vec![fund], &[&bob.key]));
    assert_eq!(dyn_data(&dc, tok).fee_pool, seed + 1000 * C);
    assert_eq!(core_bal(&dc, bob.id), 2000 * C - 1000 * C - C);
    assert_eq!(stats(&dc, bob.id).pending_vested_fees, C);

    // bob has 999 CORE left; after this operation's 1 CORE fee, 998 remain.
    let too_much = Operation::AssetFundFeePool(AssetFundFeePoolOperation {
        fee: Asset::core(FUND_POOL_FEE),
        from_account: bob.id,
        asset_id: tok,
        amount: 999 * C,
        extensions: Extensions,
    });
    let err = rejected_op(&mut dc, too_much, &bob.key);
    assert_eq!(
        err,
        EvalError::InsufficientBalance {
            account: "bob".into(),
            has: "998.00000 CORE".into(),
            needs: "999.00000 CORE".into()
        }
    );

    // The issuer claims some core back.
    let claim = |who: AccountId, amount: i64| {
        Operation::AssetClaimPool(AssetClaimPoolOperation {
            fee: Asset::core(CLAIM_POOL_FEE),
            issuer: who,
            asset_id: tok,
            amount_to_claim: Asset::core(amount),
            extensions: Extensions,
        })
    };
    assert_eq!(
        dc.chain.required_fee(&claim(issuer.id, 1)).unwrap(),
        CLAIM_POOL_FEE
    );
    let issuer_core = core_bal(&dc, issuer.id);
    ok(dc.push_ops(vec![claim(issuer.id, 300 * C)], &[&issuer.key]));
    assert_eq!(dyn_data(&dc, tok).fee_pool, seed + 700 * C);
    assert_eq!(
        core_bal(&dc, issuer.id),
        issuer_core + 300 * C - CLAIM_POOL_FEE
    );

    // Not more than the pool, and only by the issuer.
    let err = rejected_op(&mut dc, claim(issuer.id, seed + 700 * C + 1), &issuer.key);
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("POOLED")),
        "{err}"
    );
    let err = rejected_op(&mut dc, claim(bob.id, 1), &bob.key);
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "bob".into(),
            asset: "POOLED".into(),
            issuer: "issuer".into()
        }
    );
    // The whole pool can be drained.
    ok(dc.push_ops(vec![claim(issuer.id, seed + 700 * C)], &[&issuer.key]));
    assert_eq!(dyn_data(&dc, tok).fee_pool, 0);
    assert_eq!(
        core_bal(&dc, issuer.id),
        issuer_core + 300 * C + seed + 700 * C - 2 * CLAIM_POOL_FEE
    );

    // The claim fee cannot come out of the pool being claimed (validate).
    let Operation::AssetClaimPool(mut from_pool) = claim(issuer.id, 1) else {
        unreachable!()
    };
    from_pool.fee = Asset::new(1, tok);
    let e = validation_error(&dc, Operation::AssetClaimPool(from_pool), &issuer.key);
    assert_eq!(e.op, "asset_claim_pool");
}

#[test]
fn fees_paid_in_a_user_asset_use_the_cer_rounded_down() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 10_000 * C);
    let bob = funded(&mut dc, "bob", 100 * C);
    let carol = funded(&mut dc, "carol", 100 * C);

    // CER: 7 CORE satoshis = 3 FEECOIN satoshis, so a fee of f FEECOIN is worth
    // floor(7f / 3) CORE satoshis.
    let mut opts = uia_options(100_000_000, DEFAULT_UIA_PERMS, 0);
    opts.core_exchange_rate = Price::new(Asset::core(7), Asset::new(3, AssetId(1)));
    let mut op = create_op(issuer.id, "FEECOIN", 4, opts);
    let create_fee = asset_create_fee(&op);
    op.fee = Asset::core(create_fee);
    let fc = create_asset(&mut dc, &issuer, op);
    assert_eq!(
        asset(&dc, fc).options.core_exchange_rate,
        Price::new(Asset::core(7), Asset::new(3, fc))
    );
    let pool0 = create_fee / 2;
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(10_000_000, fc), bob.id)],
        &[&issuer.key],
    ));

    let bob_core = core_bal(&dc, bob.id);
    let bob_stats = stats(&dc, bob.id);
    let send = |fee: i64| transfer_op(bob.id, carol.id, Asset::new(1000, fc), Asset::new(fee, fc));

    // 857144 * 7 = 6000008 = 3 * 2000002 + 2: worth 2000002 satoshis, not 2000003.
    ok(dc.push_ops(vec![send(857_144)], &[&bob.key]));
    let d = dyn_data(&dc, fc);
    assert_eq!(d.fee_pool, pool0 - 2_000_002);
    assert_eq!(d.accumulated_fees, 857_144);
    assert_eq!(dc.chain.balance(bob.id, fc), 10_000_000 - 1000 - 857_144);
    assert_eq!(dc.chain.balance(carol.id, fc), 1000);
    // The fee asset is not core: bob's core is untouched, and the core value counts as
    // his paid fee (below the threshold, so vested).
    assert_eq!(core_bal(&dc, bob.id), bob_core);
    let s = stats(&dc, bob.id);
    assert_eq!(
        s.pending_vested_fees,
        bob_stats.pending_vested_fees + 2_000_002
    );
    assert_eq!(s.pending_fees, bob_stats.pending_fees);

    // 857143 * 7 = 6000001: worth 2000000 exactly after rounding down, just enough.
    ok(dc.push_ops(vec![send(857_143)], &[&bob.key]));
    let d = dyn_data(&dc, fc);
    assert_eq!(d.fee_pool, pool0 - 2_000_002 - 2_000_000);
    assert_eq!(d.accumulated_fees, 857_144 + 857_143);

    // 857142 * 7 = 5999994: worth 1999998, short of the 20 CORE transfer fee.
    let err = rejected_op(&mut dc, send(857_142), &bob.key);
    assert_eq!(
        err,
        EvalError::InsufficientFee {
            required: "20.00000 CORE".into(),
            paid: "85.7142 FEECOIN (worth 19.99998 CORE)".into()
        }
    );

    // Shrink the pool to 1999999 satoshis: a fee worth 2000000 now exceeds it.
    let pool = dyn_data(&dc, fc).fee_pool;
    ok(dc.push_ops(
        vec![Operation::AssetClaimPool(AssetClaimPoolOperation {
            fee: Asset::core(CLAIM_POOL_FEE),
            issuer: issuer.id,
            asset_id: fc,
            amount_to_claim: Asset::core(pool - 1_999_999),
            extensions: Extensions,
        })],
        &[&issuer.key],
    ));
    assert_eq!(dyn_data(&dc, fc).fee_pool, 1_999_999);
    let err = rejected_op(&mut dc, send(857_143), &bob.key);
    assert_eq!(
        err,
        EvalError::InsufficientFeePool {
            asset: "FEECOIN".into(),
            pool: "19.99999 CORE".into(),
            needed: "20.00000 CORE".into()
        }
    );
    // The pool is checked first; a fee that fits the pool but is too small is an
    // insufficient fee.
    let err = rejected_op(&mut dc, send(857_142), &bob.key);
    assert!(matches!(err, EvalError::InsufficientFee { .. }), "{err}");

    // Fund the pool again and pay an asset_reserve fee in FEECOIN too: 20 CORE needs
    // ceil(2000000 * 3 / 7) = 857143 FEECOIN.
    ok(dc.push_ops(
        vec![Operation::AssetFundFeePool(AssetFundFeePoolOperation {
            fee: Asset::core(FUND_POOL_FEE),
            from_account: issuer.id,
            asset_id: fc,
            amount: 1,
            extensions: Extensions,
        })],
        &[&issuer.key],
    ));
    assert_eq!(dyn_data(&dc, fc).fee_pool, 2_000_000);
    let reserve = Operation::AssetReserve(AssetReserveOperation {
        fee: Asset::new(857_143, fc),
        payer: bob.id,
        amount_to_reserve: Asset::new(5, fc),
        extensions: Extensions,
    });
    ok(dc.push_ops(vec![reserve], &[&bob.key]));
    let d = dyn_data(&dc, fc);
    assert_eq!(d.fee_pool, 0);
    let accumulated = 857_144 + 857_143 + 857_143;
    assert_eq!(d.accumulated_fees, accumulated);
    // Fees paid in the asset stay in its supply (they are held as accumulated fees);
    // only the 5 reserved satoshis left it.
    assert_eq!(d.current_supply, 10_000_000 - 5);
    assert_eq!(
        dc.chain.balance(bob.id, fc),
        10_000_000 - 2000 - 857_144 - 857_143 - 857_143 - 5
    );

    // asset_claim_fees: the issuer takes the accumulated fees.
    let claim = |who: AccountId, amount: i64| {
        Operation::AssetClaimFees(AssetClaimFeesOperation {
            fee: Asset::core(CLAIM_FEES_FEE),
            issuer: who,
            amount_to_claim: Asset::new(amount, fc),
            extensions: Extensions,
        })
    };
    assert_eq!(
        dc.chain.required_fee(&claim(issuer.id, 1)).unwrap(),
        CLAIM_FEES_FEE
    );
    let err = rejected_op(&mut dc, claim(bob.id, 1), &bob.key);
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "bob".into(),
            asset: "FEECOIN".into(),
            issuer: "issuer".into()
        }
    );
    let err = rejected_op(&mut dc, claim(issuer.id, accumulated + 1), &issuer.key);
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("257.1431 FEECOIN")),
        "{err}"
    );
    let issuer_core = core_bal(&dc, issuer.id);
    ok(dc.push_ops(vec![claim(issuer.id, 1_000_000)], &[&issuer.key]));
    assert_eq!(dyn_data(&dc, fc).accumulated_fees, accumulated - 1_000_000);
    assert_eq!(dc.chain.balance(issuer.id, fc), 1_000_000);
    ok(dc.push_ops(
        vec![claim(issuer.id, accumulated - 1_000_000)],
        &[&issuer.key],
    ));
    assert_eq!(dyn_data(&dc, fc).accumulated_fees, 0);
    assert_eq!(dc.chain.balance(issuer.id, fc), accumulated);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core - 2 * CLAIM_FEES_FEE);
    let err = rejected_op(&mut dc, claim(issuer.id, 1), &issuer.key);
    assert!(matches!(err, EvalError::Rule(_)), "{err}");

    // Every FEECOIN satoshi is accounted for.
    assert_eq!(
        dc.chain.balance(bob.id, fc)
            + dc.chain.balance(carol.id, fc)
            + dc.chain.balance(issuer.id, fc),
        dyn_data(&dc, fc).current_supply
    );
}

// ---------------------------------------------------------------------------------------
// asset_update, asset_update_issuer
// ---------------------------------------------------------------------------------------

#[test]
fn asset_update_permissions_flags_cer_and_max_supply() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let other = funded(&mut dc, "other", 10_000 * C);
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "TOKEN",
            2,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    let other_asset = create_asset(
        &mut dc,
        &other,
        create_op(other.id, "OTHER", 2, uia_options(1_000_000, 0, 0)),
    );
    let push_update = |dc: &mut DevChain, o: AssetOptions| {
        let op = update_op(issuer.id, tok, o);
        dc.push_ops(vec![Operation::AssetUpdate(op)], &[&issuer.key])
    };

    // The fee: 500 CORE plus the data fee, all of it the issuer's pending (vesting) fee.
    let mut o = opts_of(&dc, tok);
    o.description = "x".repeat(1500);
    let op = update_op(issuer.id, tok, o.clone());
    let fee = op.fee.amount;
    let size = borsh::object_length(&op).unwrap() as i64;
    assert!(size > 1500);
    assert_eq!(fee, 500 * C + size * 10 / 1024);
    assert!(fee > 500 * C);
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AssetUpdate(op.clone()))
            .unwrap(),
        fee
    );
    let (bal, pending) = (core_bal(&dc, issuer.id), stats(&dc, issuer.id).pending_fees);
    ok(dc.push_ops(vec![Operation::AssetUpdate(op)], &[&issuer.key]));
    assert_eq!(core_bal(&dc, issuer.id), bal - fee);
    assert_eq!(stats(&dc, issuer.id).pending_fees, pending + fee);
    assert_eq!(asset(&dc, tok).options.description.len(), 1500);

    // Only the issuer.
    let by_bob = update_op(bob.id, tok, opts_of(&dc, tok));
    let err = rejected_op(&mut dc, Operation::AssetUpdate(by_bob), &bob.key);
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "bob".into(),
            asset: "TOKEN".into(),
            issuer: "issuer".into()
        }
    );

    // With no supply, a dropped permission may come back.
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions = DEFAULT_UIA_PERMS & !flags::OVERRIDE_AUTHORITY;
    ok(push_update(&mut dc, o));
    assert_eq!(
        asset(&dc, tok).options.issuer_permissions,
        DEFAULT_UIA_PERMS & !flags::OVERRIDE_AUTHORITY
    );
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions = DEFAULT_UIA_PERMS;
    ok(push_update(&mut dc, o));
    assert_eq!(
        asset(&dc, tok).options.issuer_permissions,
        DEFAULT_UIA_PERMS
    );

    // With supply, permissions can only be dropped.
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(5000, tok), bob.id)],
        &[&issuer.key],
    ));
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions = DEFAULT_UIA_PERMS & !flags::OVERRIDE_AUTHORITY;
    ok(push_update(&mut dc, o));
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions = DEFAULT_UIA_PERMS;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("only be given up")),
        "{err}"
    );
    assert_eq!(
        asset(&dc, tok).options.issuer_permissions,
        DEFAULT_UIA_PERMS & !flags::OVERRIDE_AUTHORITY
    );

    // A flag change needs its permission: white_list (held) may be turned on and off,
    // override_authority (dropped) may not be turned on.
    let mut o = opts_of(&dc, tok);
    o.flags = flags::WHITE_LIST;
    ok(push_update(&mut dc, o));
    assert_eq!(asset(&dc, tok).options.flags, flags::WHITE_LIST);
    let mut o = opts_of(&dc, tok);
    o.flags = flags::WHITE_LIST | flags::OVERRIDE_AUTHORITY;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("0x4")),
        "{err}"
    );
    let mut o = opts_of(&dc, tok);
    o.flags = 0;
    ok(push_update(&mut dc, o));
    assert_eq!(asset(&dc, tok).options.flags, 0);
    // Bits outside the UIA set are refused for a user-issued asset.
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions |= flags::DISABLE_FORCE_SETTLE;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(matches!(err, EvalError::Rule(_)), "{err}");

    // The CER must relate this asset and core (either way round).
    let mut o = opts_of(&dc, tok);
    o.core_exchange_rate = Price::new(Asset::core(1), Asset::new(2, other_asset));
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("core_exchange_rate")),
        "{err}"
    );
    let mut o = opts_of(&dc, tok);
    o.core_exchange_rate = Price::new(Asset::new(5, tok), Asset::core(2));
    ok(push_update(&mut dc, o));
    assert_eq!(
        asset(&dc, tok).options.core_exchange_rate,
        Price::new(Asset::new(5, tok), Asset::core(2))
    );
    // A CER without core at all does not pass validate.
    let mut o = opts_of(&dc, tok);
    o.core_exchange_rate = Price::new(Asset::new(1, tok), Asset::new(1, other_asset));
    let e = validation_error(
        &dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert_eq!(e.op, "asset_update");

    // max_supply may not drop below the supply (5000); equal is fine.
    let mut o = opts_of(&dc, tok);
    o.max_supply = 4999;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("49.99 TOKEN") && m.contains("50.00 TOKEN")),
        "{err}"
    );
    let mut o = opts_of(&dc, tok);
    o.max_supply = 5000;
    ok(push_update(&mut dc, o));
    assert_eq!(asset(&dc, tok).options.max_supply, 5000);
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(1, tok), bob.id),
        &issuer.key,
    );
    assert!(matches!(err, EvalError::Rule(_)), "{err}");

    // new_issuer is not allowed in asset_update (validate).
    let mut op = update_op(issuer.id, tok, opts_of(&dc, tok));
    op.new_issuer = Some(bob.id);
    let e = validation_error(&dc, Operation::AssetUpdate(op), &issuer.key);
    assert_eq!(e.op, "asset_update");
}

#[test]
fn asset_update_issuer_needs_the_owner_authority() {
    let mut dc = DevChain::new();
    let dev = dev_key();
    let bob = funded(&mut dc, "bob", 1000 * C);

    // An issuer whose owner and active keys differ.
    let owner_key = PrivateKey::from_label("issuer-x owner");
    let active_key = PrivateKey::from_label("issuer-x active");
    let mut create = AccountCreateOperation {
        fee: Asset::core(0),
        registrar: dc.id("dev"),
        referrer: dc.id("dev"),
        referrer_percent: 0,
        name: "issuer-x".into(),
        owner: Authority::single_key(owner_key.public_key()),
        active: Authority::single_key(active_key.public_key()),
        options: AccountOptions::with_memo_key(active_key.public_key()),
        extensions: Extensions,
    };
    // A cheap name (it has a '-'): 5 CORE plus 1 CORE per KiB of the op.
    let size = borsh::object_length(&create).unwrap() as i64;
    create.fee = Asset::core(5 * C + size * C / 1024);
    assert_eq!(
        dc.chain
            .required_fee(&Operation::AccountCreate(create.clone()))
            .unwrap(),
        create.fee.amount
    );
    ok(dc.push_ops(vec![Operation::AccountCreate(create)], &[&dev]));
    let x = dc.id("issuer-x");
    ok(dc.push_ops(
        vec![transfer_op(
            dc.id("dev"),
            x,
            Asset::core(10_000 * C),
            Asset::core(TRANSFER_FEE),
        )],
        &[&dev],
    ));
    dc.produce_block();
    let issuer = Acct {
        id: x,
        key: active_key,
    };
    // Active-level operations are signed with the active key.
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(x, "MOVED", 0, uia_options(1_000_000, DEFAULT_UIA_PERMS, 0)),
    );

    let change = Operation::AssetUpdateIssuer(AssetUpdateIssuerOperation {
        fee: Asset::core(UPDATE_ISSUER_FEE),
        issuer: x,
        asset_to_update: tok,
        new_issuer: bob.id,
        extensions: Extensions,
    });
    assert_eq!(dc.chain.required_fee(&change).unwrap(), UPDATE_ISSUER_FEE);

    // The active key is not enough.
    let err = rejected(&mut dc, vec![change.clone()], &[&issuer.key]);
    assert_eq!(
        err,
        TxError::MissingAuthority {
            account: "issuer-x".into(),
            level: "owner"
        }
    );
    assert_eq!(asset(&dc, tok).issuer, x);

    // The owner key is.
    let bal = core_bal(&dc, x);
    ok(dc.push_ops(vec![change], &[&owner_key]));
    assert_eq!(asset(&dc, tok).issuer, bob.id);
    assert_eq!(core_bal(&dc, x), bal - UPDATE_ISSUER_FEE);

    // The old issuer lost its powers; the new one has them.
    let err = rejected_op(&mut dc, issue_op(x, Asset::new(1, tok), x), &issuer.key);
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "issuer-x".into(),
            asset: "MOVED".into(),
            issuer: "bob".into()
        }
    );
    ok(dc.push_ops(
        vec![issue_op(bob.id, Asset::new(7, tok), bob.id)],
        &[&bob.key],
    ));
    assert_eq!(dc.chain.balance(bob.id, tok), 7);

    // Not even its owner key lets the old issuer hand the asset on.
    let back = Operation::AssetUpdateIssuer(AssetUpdateIssuerOperation {
        fee: Asset::core(UPDATE_ISSUER_FEE),
        issuer: x,
        asset_to_update: tok,
        new_issuer: bob.id,
        extensions: Extensions,
    });
    let e = rejected(&mut dc, vec![back], &[&owner_key]);
    assert!(
        matches!(
            &e,
            TxError::Operation {
                index: 0,
                op: "asset_update_issuer",
                error: EvalError::NotIssuer { .. }
            }
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// override_transfer
// ---------------------------------------------------------------------------------------

#[test]
fn override_transfer_needs_the_flag_and_the_issuer() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 1000 * C);
    let plain = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "PLAIN",
            0,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    let ovr = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "OVERRIDE",
            0,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, flags::OVERRIDE_AUTHORITY),
        ),
    );
    ok(dc.push_ops(
        vec![
            issue_op(issuer.id, Asset::new(1000, plain), bob.id),
            issue_op(issuer.id, Asset::new(1000, ovr), bob.id),
        ],
        &[&issuer.key],
    ));
    let over = |by: AccountId, amount: Asset| {
        Operation::OverrideTransfer(OverrideTransferOperation {
            fee: Asset::core(OVERRIDE_FEE),
            issuer: by,
            from: bob.id,
            to: carol.id,
            amount,
            memo: None,
            extensions: Extensions,
        })
    };
    assert_eq!(
        dc.chain
            .required_fee(&over(issuer.id, Asset::new(1, ovr)))
            .unwrap(),
        OVERRIDE_FEE
    );

    // Without the override_authority flag (even with the permission).
    let err = rejected_op(
        &mut dc,
        over(issuer.id, Asset::new(300, plain)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("override_authority")),
        "{err}"
    );

    // Not by anyone but the issuer.
    let err = rejected_op(&mut dc, over(carol.id, Asset::new(300, ovr)), &carol.key);
    assert_eq!(
        err,
        EvalError::NotIssuer {
            account: "carol".into(),
            asset: "OVERRIDE".into(),
            issuer: "issuer".into()
        }
    );

    // The issuer moves bob's coins without bob's signature.
    let issuer_core = core_bal(&dc, issuer.id);
    let bob_core = core_bal(&dc, bob.id);
    ok(dc.push_ops(vec![over(issuer.id, Asset::new(300, ovr))], &[&issuer.key]));
    assert_eq!(dc.chain.balance(bob.id, ovr), 700);
    assert_eq!(dc.chain.balance(carol.id, ovr), 300);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core - OVERRIDE_FEE);
    assert_eq!(core_bal(&dc, bob.id), bob_core);
    assert_eq!(dyn_data(&dc, ovr).current_supply, 1000);

    // Not more than bob holds.
    let err = rejected_op(&mut dc, over(issuer.id, Asset::new(701, ovr)), &issuer.key);
    assert_eq!(
        err,
        EvalError::InsufficientBalance {
            account: "bob".into(),
            has: "700 OVERRIDE".into(),
            needs: "701 OVERRIDE".into()
        }
    );
}

// ---------------------------------------------------------------------------------------
// Whitelists, blacklists, transfer_restricted
// ---------------------------------------------------------------------------------------

#[test]
fn whitelist_and_blacklist_authorization() {
    let mut dc = DevChain::new();
    let dev = dev_key();
    let dev_id = dc.id("dev");
    let issuer = funded(&mut dc, "issuer", 30_000 * C);
    let a = funded(&mut dc, "wl-auth", 20_000 * C);
    let b = funded(&mut dc, "bl-auth", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 1000 * C);
    let dave = funded(&mut dc, "dave", 1000 * C);

    // Only lifetime members may whitelist.
    let err = rejected_op(&mut dc, whitelist_op(a.id, bob.id, LISTING_WHITE), &a.key);
    assert_eq!(
        err,
        EvalError::NotLifetimeMember {
            account: "wl-auth".into(),
            role: "whitelisting authority"
        }
    );
    let op = upgrade_op(a.id);
    assert_eq!(dc.chain.required_fee(&op).unwrap(), LIFETIME_UPGRADE_FEE);
    ok(dc.push_ops(vec![op], &[&a.key]));
    ok(dc.push_ops(vec![upgrade_op(b.id)], &[&b.key]));
    assert_eq!(core_bal(&dc, a.id), 20_000 * C - LIFETIME_UPGRADE_FEE);
    assert!(dc.chain.store.account(a.id).unwrap().is_lifetime_member());
    assert_eq!(stats(&dc, a.id).pending_fees, LIFETIME_UPGRADE_FEE);

    // WLT: whitelist authority A, blacklist authority B.
    let mut opts = uia_options(1_000_000, DEFAULT_UIA_PERMS, flags::WHITE_LIST);
    opts.whitelist_authorities.insert(a.id);
    opts.blacklist_authorities.insert(b.id);
    let wlt = create_asset(&mut dc, &issuer, create_op(issuer.id, "WLTOKEN", 0, opts));
    let not_authorized = |who: &str| EvalError::NotAuthorizedForAsset {
        account: who.into(),
        asset: "WLTOKEN".into(),
    };

    // Nobody is listed yet: bob cannot receive.
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(1000, wlt), bob.id),
        &issuer.key,
    );
    assert_eq!(err, not_authorized("bob"));

    // A whitelists bob (3 CORE, a vested fee).
    let op = whitelist_op(a.id, bob.id, LISTING_WHITE);
    assert_eq!(dc.chain.required_fee(&op).unwrap(), WHITELIST_FEE);
    let a_core = core_bal(&dc, a.id);
    ok(dc.push_ops(vec![op], &[&a.key]));
    assert_eq!(core_bal(&dc, a.id), a_core - WHITELIST_FEE);
    assert_eq!(stats(&dc, a.id).pending_vested_fees, WHITELIST_FEE);
    let bob_obj = dc.chain.store.account(bob.id).unwrap().clone();
    assert_eq!(bob_obj.whitelisting_accounts, BTreeSet::from([a.id]));
    assert!(dc
        .chain
        .store
        .account(a.id)
        .unwrap()
        .whitelisted_accounts
        .contains(&bob.id));

    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(1000, wlt), bob.id)],
        &[&issuer.key],
    ));
    assert_eq!(dc.chain.balance(bob.id, wlt), 1000);

    // carol is not whitelisted: bob cannot pay her.
    let send = |from: AccountId, to: AccountId, n: i64| {
        transfer_op(from, to, Asset::new(n, wlt), Asset::core(TRANSFER_FEE))
    };
    let err = rejected_op(&mut dc, send(bob.id, carol.id, 100), &bob.key);
    assert_eq!(err, not_authorized("carol"));
    // Whitelisting by an account that is not a whitelist authority of WLT does not help.
    ok(dc.push_ops(vec![whitelist_op(dev_id, carol.id, LISTING_WHITE)], &[&dev]));
    let err = rejected_op(&mut dc, send(bob.id, carol.id, 100), &bob.key);
    assert_eq!(err, not_authorized("carol"));
    // Whitelisted by A, she can.
    ok(dc.push_ops(vec![whitelist_op(a.id, carol.id, LISTING_WHITE)], &[&a.key]));
    let bob_core = core_bal(&dc, bob.id);
    ok(dc.push_ops(vec![send(bob.id, carol.id, 100)], &[&bob.key]));
    assert_eq!(dc.chain.balance(bob.id, wlt), 900);
    assert_eq!(dc.chain.balance(carol.id, wlt), 100);
    assert_eq!(core_bal(&dc, bob.id), bob_core - TRANSFER_FEE);

    // B blacklists carol: refused although A still whitelists her, as receiver and as
    // sender, and she may not pay fees in WLT either.
    ok(dc.push_ops(vec![whitelist_op(b.id, carol.id, LISTING_BLACK)], &[&b.key]));
    let carol_obj = dc.chain.store.account(carol.id).unwrap().clone();
    assert_eq!(
        carol_obj.whitelisting_accounts,
        BTreeSet::from([a.id, dev_id])
    );
    assert_eq!(carol_obj.blacklisting_accounts, BTreeSet::from([b.id]));
    let err = rejected_op(&mut dc, send(bob.id, carol.id, 100), &bob.key);
    assert_eq!(err, not_authorized("carol"));
    let err = rejected_op(&mut dc, send(carol.id, bob.id, 50), &carol.key);
    assert_eq!(err, not_authorized("carol"));
    let core_with_wlt_fee = transfer_op(
        carol.id,
        bob.id,
        Asset::core(C),
        Asset::new(TRANSFER_FEE, wlt),
    );
    let err = rejected_op(&mut dc, core_with_wlt_fee, &carol.key);
    assert_eq!(err, not_authorized("carol"));
    assert_eq!(dc.chain.balance(carol.id, wlt), 100);

    // A blacklisting by an account outside blacklist_authorities is ignored.
    ok(dc.push_ops(vec![whitelist_op(dev_id, bob.id, LISTING_BLACK)], &[&dev]));
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(1, wlt), bob.id)],
        &[&issuer.key],
    ));
    assert_eq!(dc.chain.balance(bob.id, wlt), 901);

    // B lifts the blacklisting: carol is authorized again through A.
    ok(dc.push_ops(vec![whitelist_op(b.id, carol.id, LISTING_NONE)], &[&b.key]));
    ok(dc.push_ops(vec![send(carol.id, bob.id, 50)], &[&carol.key]));
    assert_eq!(dc.chain.balance(carol.id, wlt), 50);
    assert_eq!(dc.chain.balance(bob.id, wlt), 951);

    // A removes bob from its whitelist: he can no longer receive.
    ok(dc.push_ops(vec![whitelist_op(a.id, bob.id, LISTING_NONE)], &[&a.key]));
    assert!(dc
        .chain
        .store
        .account(bob.id)
        .unwrap()
        .whitelisting_accounts
        .is_empty());
    assert!(!dc
        .chain
        .store
        .account(a.id)
        .unwrap()
        .whitelisted_accounts
        .contains(&bob.id));
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(1, wlt), bob.id),
        &issuer.key,
    );
    assert_eq!(err, not_authorized("bob"));

    // An asset with the white_list flag but no whitelist authorities: everybody is
    // allowed except those blacklisted by one of its blacklist authorities.
    let mut opts = uia_options(1_000_000, DEFAULT_UIA_PERMS, flags::WHITE_LIST);
    opts.blacklist_authorities.insert(b.id);
    let open = create_asset(&mut dc, &issuer, create_op(issuer.id, "OPENLIST", 0, opts));
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(10, open), dave.id)],
        &[&issuer.key],
    ));
    assert_eq!(dc.chain.balance(dave.id, open), 10);
    ok(dc.push_ops(vec![whitelist_op(b.id, dave.id, LISTING_BLACK)], &[&b.key]));
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(10, open), dave.id),
        &issuer.key,
    );
    assert_eq!(
        err,
        EvalError::NotAuthorizedForAsset {
            account: "dave".into(),
            asset: "OPENLIST".into()
        }
    );
    // Without the white_list flag nothing is checked at all.
    let free = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "FREELIST",
            0,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(10, free), dave.id)],
        &[&issuer.key],
    ));
    assert_eq!(dc.chain.balance(dave.id, free), 10);
}

#[test]
fn transfer_restricted_needs_the_issuer_as_a_party() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 1000 * C);
    let tr = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "RESTRICT",
            0,
            uia_options(1_000_000, DEFAULT_UIA_PERMS, flags::TRANSFER_RESTRICTED),
        ),
    );
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(1000, tr), issuer.id)],
        &[&issuer.key],
    ));
    let send = |from: AccountId, to: AccountId, n: i64| {
        transfer_op(from, to, Asset::new(n, tr), Asset::core(TRANSFER_FEE))
    };

    // issuer → bob: fine.
    ok(dc.push_ops(vec![send(issuer.id, bob.id, 400)], &[&issuer.key]));
    // bob → carol: neither is the issuer.
    let err = rejected_op(&mut dc, send(bob.id, carol.id, 100), &bob.key);
    assert_eq!(
        err,
        EvalError::TransferRestricted {
            asset: "RESTRICT".into(),
            issuer: "issuer".into()
        }
    );
    // bob → issuer: fine.
    let bob_core = core_bal(&dc, bob.id);
    ok(dc.push_ops(vec![send(bob.id, issuer.id, 150)], &[&bob.key]));
    assert_eq!(dc.chain.balance(bob.id, tr), 250);
    assert_eq!(dc.chain.balance(issuer.id, tr), 750);
    assert_eq!(dc.chain.balance(carol.id, tr), 0);
    assert_eq!(core_bal(&dc, bob.id), bob_core - TRANSFER_FEE);
}

// ---------------------------------------------------------------------------------------
// A failed transaction changes nothing
// ---------------------------------------------------------------------------------------

#[test]
fn a_failed_operation_undoes_the_whole_transaction() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "TOKEN",
            0,
            uia_options(1000, DEFAULT_UIA_PERMS, 0),
        ),
    );
    let issuer_core = core_bal(&dc, issuer.id);
    let issuer_stats = stats(&dc, issuer.id);

    // Operation 0 would issue 600 and pay its fee; operation 1 would exceed max_supply.
    let err = rejected(
        &mut dc,
        vec![
            issue_op(issuer.id, Asset::new(600, tok), bob.id),
            issue_op(issuer.id, Asset::new(401, tok), bob.id),
        ],
        &[&issuer.key],
    );
    match err {
        TxError::Operation { index, op, error } => {
            assert_eq!((index, op), (1, "asset_issue"));
            assert!(matches!(error, EvalError::Rule(_)), "{error}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(dc.chain.balance(bob.id, tok), 0);
    assert_eq!(dyn_data(&dc, tok).current_supply, 0);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core);
    assert_eq!(stats(&dc, issuer.id), issuer_stats);

    // A refused asset_create leaves no asset, symbol, pool or fee behind.
    let mut dup = create_op(issuer.id, "FRESH", 0, uia_options(1000, 0, 0));
    dup.fee = Asset::core(asset_create_fee(&dup));
    let mut taken = create_op(issuer.id, "TOKEN", 0, uia_options(1000, 0, 0));
    taken.fee = Asset::core(asset_create_fee(&taken));
    let err = rejected(
        &mut dc,
        vec![Operation::AssetCreate(dup), Operation::AssetCreate(taken)],
        &[&issuer.key],
    );
    assert!(
        matches!(&err, TxError::Operation { index: 1, op: "asset_create", error: EvalError::SymbolTaken(s) } if s == "TOKEN"),
        "{err}"
    );
    assert_eq!(dc.chain.asset_id_by_symbol("FRESH"), None);
    assert_eq!(dc.chain.store.assets.next_instance(), tok.0 + 1);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core);

    // The same two issues within bounds go through together, and survive a block.
    ok(dc.push_ops(
        vec![
            issue_op(issuer.id, Asset::new(600, tok), bob.id),
            issue_op(issuer.id, Asset::new(400, tok), bob.id),
        ],
        &[&issuer.key],
    ));
    dc.produce_block();
    assert_eq!(dc.chain.balance(bob.id, tok), 1000);
    assert_eq!(dyn_data(&dc, tok).current_supply, 1000);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core - 2 * ISSUE_FEE);
    assert_eq!(
        stats(&dc, issuer.id).pending_vested_fees,
        issuer_stats.pending_vested_fees + 2 * ISSUE_FEE
    );
}

#[test]
fn override_transfer_ignores_the_senders_listing_but_not_the_receivers() {
    // Modern rule (bitshares-core #2295 / PR #2465): only `to` must be authorized, so
    // the issuer can claw back from a blacklisted account.
    let mut dc = DevChain::new();
    let dev = dev_key();
    let dev_id = dc.id("dev");
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    let bob = funded(&mut dc, "bob", 1000 * C);
    let carol = funded(&mut dc, "carol", 1000 * C);
    let mut opts = uia_options(
        1_000_000,
        DEFAULT_UIA_PERMS,
        flags::OVERRIDE_AUTHORITY | flags::WHITE_LIST,
    );
    opts.blacklist_authorities.insert(dev_id);
    let tok = create_asset(&mut dc, &issuer, create_op(issuer.id, "CLAWBACK", 0, opts));
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(500, tok), bob.id)],
        &[&issuer.key],
    ));
    ok(dc.push_ops(
        vec![
            whitelist_op(dev_id, bob.id, LISTING_BLACK),
            whitelist_op(dev_id, carol.id, LISTING_BLACK),
        ],
        &[&dev],
    ));
    // bob can no longer move it himself.
    let err = rejected_op(
        &mut dc,
        transfer_op(
            bob.id,
            issuer.id,
            Asset::new(1, tok),
            Asset::core(TRANSFER_FEE),
        ),
        &bob.key,
    );
    assert_eq!(
        err,
        EvalError::NotAuthorizedForAsset {
            account: "bob".into(),
            asset: "CLAWBACK".into()
        }
    );
    let over = |to: AccountId, n: i64| {
        Operation::OverrideTransfer(OverrideTransferOperation {
            fee: Asset::core(OVERRIDE_FEE),
            issuer: issuer.id,
            from: bob.id,
            to,
            amount: Asset::new(n, tok),
            memo: None,
            extensions: Extensions,
        })
    };
    // Not to a blacklisted receiver.
    let err = rejected_op(&mut dc, over(carol.id, 100), &issuer.key);
    assert_eq!(
        err,
        EvalError::NotAuthorizedForAsset {
            account: "carol".into(),
            asset: "CLAWBACK".into()
        }
    );
    // But the issuer takes bob's coins back.
    let issuer_core = core_bal(&dc, issuer.id);
    ok(dc.push_ops(vec![over(issuer.id, 500)], &[&issuer.key]));
    assert_eq!(dc.chain.balance(bob.id, tok), 0);
    assert_eq!(dc.chain.balance(issuer.id, tok), 500);
    assert_eq!(core_bal(&dc, issuer.id), issuer_core - OVERRIDE_FEE);
}

#[test]
fn lock_max_supply_and_disable_new_supply_flags() {
    let mut dc = DevChain::new();
    let issuer = funded(&mut dc, "issuer", 20_000 * C);
    // lock_max_supply and disable_new_supply are "disable" permission bits: clear means
    // the issuer may change those flags.
    let perms = DEFAULT_UIA_PERMS;
    let tok = create_asset(
        &mut dc,
        &issuer,
        create_op(
            issuer.id,
            "LOCKED",
            0,
            uia_options(1_000, perms, flags::LOCK_MAX_SUPPLY),
        ),
    );
    ok(dc.push_ops(
        vec![issue_op(issuer.id, Asset::new(100, tok), issuer.id)],
        &[&issuer.key],
    ));

    // While locked, max_supply stays.
    let mut o = opts_of(&dc, tok);
    o.max_supply = 2_000;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("lock_max_supply")),
        "{err}"
    );
    assert_eq!(asset(&dc, tok).options.max_supply, 1_000);

    // disable_new_supply stops asset_issue even below max_supply.
    let mut o = opts_of(&dc, tok);
    o.flags |= flags::DISABLE_NEW_SUPPLY;
    ok(dc.push_ops(
        vec![Operation::AssetUpdate(update_op(issuer.id, tok, o))],
        &[&issuer.key],
    ));
    let err = rejected_op(
        &mut dc,
        issue_op(issuer.id, Asset::new(1, tok), issuer.id),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("disable_new_supply")),
        "{err}"
    );
    assert_eq!(dyn_data(&dc, tok).current_supply, 100);
    // Burning still works.
    ok(dc.push_ops(
        vec![reserve_op(issuer.id, Asset::new(40, tok))],
        &[&issuer.key],
    ));
    assert_eq!(dyn_data(&dc, tok).current_supply, 60);
    assert_eq!(dc.chain.balance(issuer.id, tok), 60);

    // Setting the disable_new_supply *permission* bit gives the power up: the flag can
    // no longer be cleared, and with supply the bit cannot be cleared again either.
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions |= flags::DISABLE_NEW_SUPPLY;
    ok(dc.push_ops(
        vec![Operation::AssetUpdate(update_op(issuer.id, tok, o))],
        &[&issuer.key],
    ));
    let mut o = opts_of(&dc, tok);
    o.flags &= !flags::DISABLE_NEW_SUPPLY;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("0x400")),
        "{err}"
    );
    let mut o = opts_of(&dc, tok);
    o.issuer_permissions &= !flags::DISABLE_NEW_SUPPLY;
    let err = rejected_op(
        &mut dc,
        Operation::AssetUpdate(update_op(issuer.id, tok, o)),
        &issuer.key,
    );
    assert!(
        matches!(&err, EvalError::Rule(m) if m.contains("reinstate")),
        "{err}"
    );
}
