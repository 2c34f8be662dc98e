//! Account evaluators, authority verification and transaction checks.

use carbyne::chain::genesis::{dev_key, GenesisState};
use carbyne::chain::{EvalError, TxError};
use carbyne::protocol::fees::P;
use carbyne::protocol::operations::*;
use carbyne::protocol::*;
use carbyne::test_utils::{DevChain, TEST_GENESIS_TIME};
use std::collections::BTreeMap;

const CORE_P: i64 = P as i64;

fn op_err(r: Result<carbyne::chain::TxReceipt, TxError>) -> EvalError {
    match r {
        Err(TxError::Operation { error, .. }) => error,
        other => panic!("expected an operation error, got {other:?}"),
    }
}

fn account_create_fee(op: &Operation, cheap: bool) -> i64 {
    let size = match op {
        Operation::AccountCreate(o) => borsh::object_length(o).unwrap(),
        _ => unreachable!(),
    };
    let base = if cheap { 5 * CORE_P } else { 2000 * CORE_P };
    base + (size as i64 * CORE_P) / 1024
}

fn stats(dev: &DevChain, name: &str) -> carbyne::chain::objects::AccountStatisticsObject {
    let a = dev.chain.store.account(dev.id(name)).unwrap();
    dev.chain
        .store
        .account_stats
        .get(a.statistics.0)
        .unwrap()
        .clone()
}

#[test]
fn cheap_and_premium_names_pay_their_fees() {
    let mut dev = DevChain::new();
    let dk = dev_key();
    let key = PrivateKey::from_label("k").public_key();
    let before = dev.chain.balance(dev.id("dev"), AssetId::CORE);

    let cheap = dev.create_account_op("alice1", "dev", key, 0);
    let cheap_fee = account_create_fee(&cheap, true);
    assert_eq!(dev.chain.required_fee(&cheap).unwrap(), cheap_fee);
    // One satoshi short is refused.
    let short = dev.create_account_op("alice1", "dev", key, cheap_fee - 1);
    assert!(matches!(
        op_err(dev.push_ops(vec![short], &[&dk])),
        EvalError::InsufficientFee { .. }
    ));
    let ok = dev.create_account_op("alice1", "dev", key, cheap_fee);
    dev.push_ops(vec![ok], &[&dk]).unwrap();

    let premium = dev.create_account_op("alice", "dev", key, 0);
    let premium_fee = account_create_fee(&premium, false);
    assert!(premium_fee > 2000 * CORE_P);
    let cheap_price = dev.create_account_op("alice", "dev", key, cheap_fee + 10);
    assert!(matches!(
        op_err(dev.push_ops(vec![cheap_price], &[&dk])),
        EvalError::InsufficientFee { .. }
    ));
    let ok = dev.create_account_op("alice", "dev", key, premium_fee);
    dev.push_ops(vec![ok], &[&dk]).unwrap();

    assert_eq!(
        dev.chain.balance(dev.id("dev"), AssetId::CORE),
        before - cheap_fee - premium_fee
    );
    // Both fees are above the 100 CORE cashback threshold except the cheap one.
    let s = stats(&dev, "dev");
    assert_eq!(s.pending_vested_fees, cheap_fee);
    assert_eq!(s.pending_fees, premium_fee);
    let alice = dev.chain.store.account(dev.id("alice")).unwrap();
    assert_eq!(alice.registrar, dev.id("dev"));
    assert_eq!(alice.network_fee_percentage, 2000);
    assert_eq!(alice.lifetime_referrer_fee_percentage, 3000);
    assert!(!alice.is_lifetime_member());

    // Taken names are refused.
    let again = dev.create_account_op("alice", "dev", key, premium_fee);
    assert_eq!(
        op_err(dev.push_ops(vec![again], &[&dk])),
        EvalError::NameTaken("alice".into())
    );
}

#[test]
fn registrar_must_be_lifetime_member_and_referrer_a_member() {
    let mut dev = DevChain::new();
    let bob = dev.create_funded_account("bob1", 100_000 * CORE_P);
    let key = PrivateKey::from_label("x").public_key();
    let op = dev.create_account_op("carol1", "bob1", key, 100 * CORE_P);
    assert!(matches!(
        op_err(dev.push_ops(vec![op], &[&bob])),
        EvalError::NotLifetimeMember {
            role: "registrar",
            ..
        }
    ));
    // dev registers, naming basic bob1 as referrer.
    let mut op = dev.create_account_op("carol1", "dev", key, 100 * CORE_P);
    if let Operation::AccountCreate(o) = &mut op {
        o.referrer = dev.id("bob1");
    }
    assert!(matches!(
        op_err(dev.push_ops(vec![op], &[&dev_key()])),
        EvalError::NotMember {
            role: "referrer",
            ..
        }
    ));
    // After upgrading, bob1 can register and refer.
    let up = Operation::AccountUpgrade(AccountUpgradeOperation {
        fee: Asset::core(10_000 * CORE_P),
        account_to_upgrade: dev.id("bob1"),
        upgrade_to_lifetime_member: true,
        extensions: Default::default(),
    });
    let before = dev.chain.balance(dev.id("bob1"), AssetId::CORE);
    dev.push_ops(vec![up.clone()], &[&bob]).unwrap();
    assert_eq!(
        dev.chain.balance(dev.id("bob1"), AssetId::CORE),
        before - 10_000 * CORE_P
    );
    let b = dev.chain.store.account(dev.id("bob1")).unwrap();
    assert!(b.is_lifetime_member());
    assert_eq!(
        (b.referrer, b.registrar, b.lifetime_referrer),
        (b.id, b.id, b.id)
    );
    assert_eq!(b.lifetime_referrer_fee_percentage, 8000);
    assert_eq!(stats(&dev, "bob1").pending_fees, 10_000 * CORE_P);
    assert!(
        matches!(op_err(dev.push_ops(vec![up], &[&bob])), EvalError::Rule(m) if m.contains("already"))
    );
    let op = dev.create_account_op("carol1", "bob1", key, 100 * CORE_P);
    dev.push_ops(vec![op], &[&bob]).unwrap();
}

#[test]
fn account_creation_fee_scales_within_an_interval() {
    let mut g = GenesisState::dev(TEST_GENESIS_TIME);
    g.initial_parameters.accounts_per_fee_scale = 2;
    let mut dev = DevChain::with_genesis(g);
    dev.produce_block(); // block 1 runs the first maintenance
    let dk = dev_key();
    let key = PrivateKey::from_label("k").public_key();
    let basic =
        |dev: &DevChain| match dev.chain.store.global().parameters.current_fees.parameters[&5] {
            carbyne::protocol::fees::FeeParameters::AccountCreate { basic_fee, .. } => basic_fee,
            _ => unreachable!(),
        };
    assert_eq!(basic(&dev), 5 * P);
    for name in ["a1", "a2"] {
        let op = dev.create_account_op(name, "dev", key, 0);
        let fee = dev.chain.required_fee(&op).unwrap();
        let op = dev.create_account_op(name, "dev", key, fee);
        dev.push_ops(vec![op], &[&dk]).unwrap();
    }
    assert_eq!(basic(&dev), 5 * P * 16);
    assert_eq!(
        dev.chain.store.dynamic().accounts_registered_this_interval,
        2
    );
    // Cross the next maintenance: the fee shifts back and the counter resets.
    let next = dev.chain.store.dynamic().next_maintenance_time;
    while dev.chain.head_block_time() < next {
        dev.produce_block();
    }
    assert_eq!(basic(&dev), 5 * P);
    assert_eq!(
        dev.chain.store.dynamic().accounts_registered_this_interval,
        0
    );
    assert!(dev.chain.store.dynamic().next_maintenance_time > next);
}

fn authority(
    threshold: u32,
    keys: &[(PublicKey, u16)],
    accounts: &[(AccountId, u16)],
) -> Authority {
    Authority {
        weight_threshold: threshold,
        key_auths: keys.iter().copied().collect::<BTreeMap<_, _>>(),
        account_auths: accounts.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

fn set_active(dev: &mut DevChain, name: &str, signer: &PrivateKey, active: Authority) {
    let op = Operation::AccountUpdate(AccountUpdateOperation {
        fee: Asset::core(100 * CORE_P),
        account: dev.id(name),
        owner: None,
        active: Some(active),
        new_options: None,
        extensions: Default::default(),
    });
    dev.push_ops(vec![op], &[signer]).unwrap();
}

#[test]
fn two_of_three_keys() {
    let mut dev = DevChain::new();
    let k0 = dev.create_funded_account("multi", 1000 * CORE_P);
    let ks: Vec<PrivateKey> = (0..3)
        .map(|i| PrivateKey::from_label(&format!("m{i}")))
        .collect();
    let auth = authority(
        2,
        &ks.iter().map(|k| (k.public_key(), 1)).collect::<Vec<_>>(),
        &[],
    );
    set_active(&mut dev, "multi", &k0, auth);
    let t = dev.transfer_op("multi", "dev", CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t.clone()], &[&ks[0]]),
        Err(TxError::MissingAuthority {
            level: "active",
            ..
        })
    ));
    dev.push_ops(vec![t.clone()], &[&ks[0], &ks[2]]).unwrap();
    // All three: the third signature is surplus.
    let t2 = dev.transfer_op("multi", "dev", 2 * CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t2.clone()], &[&ks[0], &ks[1], &ks[2]]),
        Err(TxError::IrrelevantSignature { .. })
    ));
    // The owner key (unchanged) also satisfies an active requirement.
    dev.push_ops(vec![t2], &[&k0]).unwrap();
}

#[test]
fn account_authorities_nest_two_levels_and_refuse_cycles_and_extra_signatures() {
    let mut dev = DevChain::new();
    let mut keys = BTreeMap::new();
    for n in ["a-1", "b-1", "c-1", "d-1", "x-1", "y-1"] {
        keys.insert(n, dev.create_funded_account(n, 1000 * CORE_P));
    }
    let d_key = keys["d-1"].clone();
    // a → b → c → d(key). Owners stay the accounts' own keys, so we sign with a key
    // that appears only in d-1's active authority.
    let leaf = PrivateKey::from_label("leaf");
    set_active(
        &mut dev,
        "d-1",
        &d_key,
        authority(1, &[(leaf.public_key(), 1)], &[]),
    );
    let (a, b, c, d) = (dev.id("a-1"), dev.id("b-1"), dev.id("c-1"), dev.id("d-1"));
    set_active(&mut dev, "c-1", &keys["c-1"], authority(1, &[], &[(d, 1)]));
    set_active(&mut dev, "b-1", &keys["b-1"], authority(1, &[], &[(c, 1)]));
    set_active(&mut dev, "a-1", &keys["a-1"], authority(1, &[], &[(b, 1)]));
    dev.produce_block();
    // b → c → d(leaf): two account levels below b, passes.
    let t = dev.transfer_op("b-1", "dev", CORE_P, 20 * CORE_P);
    dev.push_ops(vec![t], &[&leaf]).unwrap();
    // a → b → c → d(leaf): three levels, fails.
    let t = dev.transfer_op("a-1", "dev", CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t], &[&leaf]),
        Err(TxError::MissingAuthority { .. })
    ));
    // Extra, unrelated (registered) key next to a valid one is refused.
    let t = dev.transfer_op("b-1", "dev", 3 * CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t.clone()], &[&leaf, &keys["x-1"]]),
        Err(TxError::IrrelevantSignature { .. })
    ));
    // An unregistered key is refused too.
    let stranger = PrivateKey::from_label("stranger");
    assert!(matches!(
        dev.push_ops(vec![t], &[&leaf, &stranger]),
        Err(TxError::IrrelevantSignature { .. })
    ));

    // x ↔ y cycle with no keys: nothing satisfies it.
    let (x, y) = (dev.id("x-1"), dev.id("y-1"));
    set_active(&mut dev, "x-1", &keys["x-1"], authority(1, &[], &[(y, 1)]));
    set_active(&mut dev, "y-1", &keys["y-1"], authority(1, &[], &[(x, 1)]));
    // Owners of x and y are still their own keys, reachable by allow_non_immediate_owner
    // one level down: replace y's owner to close the cycle completely.
    let op = Operation::AccountUpdate(AccountUpdateOperation {
        fee: Asset::core(100 * CORE_P),
        account: y,
        owner: Some(authority(1, &[], &[(x, 1)])),
        active: None,
        new_options: None,
        extensions: Default::default(),
    });
    dev.push_ops(vec![op], &[&keys["y-1"]]).unwrap();
    let t = dev.transfer_op("y-1", "dev", CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t.clone()], &[&leaf]),
        Err(TxError::MissingAuthority { .. })
    ));
    assert!(matches!(
        dev.push_ops(vec![t], &[&keys["y-1"]]),
        Err(TxError::IrrelevantSignature { .. }) | Err(TxError::MissingAuthority { .. })
    ));
    let _ = (a, d);
}

#[test]
fn owner_change_needs_owner_authority() {
    let mut dev = DevChain::new();
    let owner = dev.create_funded_account("own1", 1000 * CORE_P);
    let active = PrivateKey::from_label("act");
    set_active(
        &mut dev,
        "own1",
        &owner,
        authority(1, &[(active.public_key(), 1)], &[]),
    );
    let new_owner = PrivateKey::from_label("newowner");
    let op = Operation::AccountUpdate(AccountUpdateOperation {
        fee: Asset::core(100 * CORE_P),
        account: dev.id("own1"),
        owner: Some(Authority::single_key(new_owner.public_key())),
        active: None,
        new_options: None,
        extensions: Default::default(),
    });
    assert!(matches!(
        dev.push_ops(vec![op.clone()], &[&active]),
        Err(TxError::MissingAuthority { level: "owner", .. })
    ));
    dev.push_ops(vec![op], &[&owner]).unwrap();
    let a = dev.chain.store.account(dev.id("own1")).unwrap();
    assert_eq!(a.owner, Authority::single_key(new_owner.public_key()));
}

#[test]
fn account_transfer_hands_over_the_account() {
    let mut dev = DevChain::new();
    let old = dev.create_funded_account("seller1", 1000 * CORE_P);
    let buyer = PrivateKey::from_label("buyer");
    let op = Operation::AccountTransfer(AccountTransferOperation {
        fee: Asset::core(500 * CORE_P),
        account_id: dev.id("seller1"),
        new_owner: Authority::single_key(buyer.public_key()),
        new_active: Authority::single_key(buyer.public_key()),
        new_memo_key: buyer.public_key(),
        extensions: Default::default(),
    });
    let fee = dev.chain.required_fee(&op).unwrap();
    assert_eq!(fee, 500 * CORE_P);
    dev.push_ops(vec![op], &[&old]).unwrap();
    dev.produce_block();
    let a = dev.chain.store.account(dev.id("seller1")).unwrap();
    assert_eq!(a.options.memo_key, buyer.public_key());
    let t = dev.transfer_op("seller1", "dev", 10 * CORE_P, 20 * CORE_P);
    assert!(matches!(
        dev.push_ops(vec![t.clone()], &[&old]),
        Err(TxError::MissingAuthority { .. })
    ));
    dev.push_ops(vec![t], &[&buyer]).unwrap();
    assert_eq!(
        dev.chain.balance(dev.id("seller1"), AssetId::CORE),
        1000 * CORE_P - 500 * CORE_P - 30 * CORE_P
    );
}

#[test]
fn tapos_duplicates_and_expiration() {
    let mut dev = DevChain::new();
    let dk = dev_key();
    dev.produce_block();
    let t = dev.transfer_op("dev", "init0", CORE_P, 20 * CORE_P);
    let mut trx = dev.transaction(vec![t.clone()]);
    trx.ref_block_prefix ^= 1;
    let v = dev.verified(trx, &[&dk]);
    assert!(matches!(dev.push(v), Err(TxError::TaposMismatch { .. })));

    let trx = dev.transaction(vec![t.clone()]);
    let v = dev.verified(trx.clone(), &[&dk]);
    dev.push(v.clone()).unwrap();
    assert!(matches!(dev.push(v.clone()), Err(TxError::Duplicate(_))));
    dev.produce_block();
    // Still refused after it is in a block.
    assert!(matches!(
        dev.chain.push_transaction(&v),
        Err(TxError::Duplicate(_))
    ));

    // A transaction refused for its signatures leaves no record of its id: the same
    // transaction, signed as it must be, is then applied.
    let t2 = dev.transfer_op("dev", "init0", 2 * CORE_P, 20 * CORE_P);
    let trx = dev.transaction(vec![t2]);
    let unsigned = dev.verified(trx.clone(), &[&PrivateKey::from_label("stranger")]);
    assert!(matches!(
        dev.push(unsigned),
        Err(TxError::MissingAuthority { .. })
    ));
    let signed = dev.verified(trx, &[&dk]);
    dev.push(signed.clone()).unwrap();
    assert!(matches!(dev.push(signed), Err(TxError::Duplicate(_))));

    let mut old = dev.transaction(vec![t.clone()]);
    old.expiration = dev.chain.head_block_time().saturating_sub(1);
    let v = dev.verified(old, &[&dk]);
    assert!(matches!(dev.push(v), Err(TxError::Expired { .. })));
    let mut far = dev.transaction(vec![t]);
    far.expiration = dev.chain.head_block_time().saturating_add(86_401);
    let v = dev.verified(far, &[&dk]);
    assert!(matches!(dev.push(v), Err(TxError::ExpirationTooFar { .. })));
}

#[test]
fn whitelisting_needs_a_lifetime_member_and_unbuilt_ops_are_named() {
    let mut dev = DevChain::new();
    let bk = dev.create_funded_account("basic1", 1000 * CORE_P);
    let op = Operation::AccountWhitelist(AccountWhitelistOperation {
        fee: Asset::core(3 * CORE_P),
        authorizing_account: dev.id("basic1"),
        account_to_list: dev.id("dev"),
        new_listing: LISTING_WHITE,
        extensions: Default::default(),
    });
    assert!(matches!(
        op_err(dev.push_ops(vec![op], &[&bk])),
        EvalError::NotLifetimeMember { .. }
    ));

    let order = Operation::LimitOrderCreate(LimitOrderCreateOperation {
        fee: Asset::core(5 * CORE_P),
        seller: dev.id("basic1"),
        amount_to_sell: Asset::core(10),
        min_to_receive: Asset::new(10, AssetId(1)),
        expiration: TimePointSec::MAX,
        fill_or_kill: false,
        extensions: Default::default(),
    });
    let err = op_err(dev.push_ops(vec![order], &[&bk]));
    assert_eq!(
        err,
        EvalError::NotImplemented {
            op: "limit_order_create"
        }
    );
    assert!(err.to_string().contains("limit_order_create"));
}

#[test]
fn insufficient_balance_message_names_account_and_amounts() {
    let mut dev = DevChain::new();
    let k = dev.create_funded_account("poor1", 10 * CORE_P);
    let t = dev.transfer_op("poor1", "dev", 5 * CORE_P, 20 * CORE_P);
    let err = op_err(dev.push_ops(vec![t], &[&k]));
    assert_eq!(
        err.to_string(),
        "insufficient balance: poor1 has 10.00000 CORE, needs 25.00000 CORE"
    );
}

#[test]
fn the_committee_account_cannot_act_directly() {
    let mut dev = DevChain::new();
    let t = Operation::Transfer(TransferOperation {
        fee: Asset::core(20 * CORE_P),
        from: AccountId::COMMITTEE,
        to: dev.id("dev"),
        amount: Asset::core(1),
        memo: None,
        extensions: Default::default(),
    });
    assert!(matches!(
        dev.push_ops(vec![t], &[&dev_key()]),
        Err(TxError::CommitteeNeedsProposal)
    ));
}
