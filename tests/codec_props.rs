//! Property tests of the canonical codec (`docs/PROTOCOL.md` sections 1, 9 and 12):
//! round trips through borsh and JSON, canonicality under mutation, no panics on
//! arbitrary input; and unit tests of each rule decoders enforce.

use carbyne::pipeline::verify::{hash_decoded, hash_decoded_batch, hash_transaction};
use carbyne::protocol::codec::{self, encode, CodecError};
use carbyne::protocol::ids::INSTANCE_MAX;
use carbyne::protocol::memo::Memo;
use carbyne::protocol::operations::*;
use carbyne::protocol::*;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const MAX: usize = 64 * 1024;

fn decode_signed(bytes: &[u8]) -> Result<SignedTransaction, CodecError> {
    codec::decode::<SignedTransaction>("signed transaction", bytes, MAX)
}

// ---------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------

/// Instances near both ends of the 48-bit range, and small ones.
fn instance() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..64, 0..=INSTANCE_MAX, INSTANCE_MAX - 3..=INSTANCE_MAX]
}

fn account() -> impl Strategy<Value = AccountId> {
    instance().prop_map(AccountId)
}

fn asset() -> impl Strategy<Value = Asset> {
    (any::<i64>(), instance()).prop_map(|(a, id)| Asset::new(a, AssetId(id)))
}

fn time() -> impl Strategy<Value = TimePointSec> {
    any::<u32>().prop_map(TimePointSec)
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 64).prop_map(|v| Signature(v.try_into().unwrap()))
}

fn memo() -> impl Strategy<Value = Option<Memo>> {
    proptest::option::of(
        (
            public_key(),
            public_key(),
            any::<u64>(),
            vec(any::<u8>(), 0..40),
        )
            .prop_map(|(from, to, nonce, message)| Memo {
                from,
                to,
                nonce,
                message,
            }),
    )
}

fn authority() -> impl Strategy<Value = Authority> {
    (
        any::<u32>(),
        btree_map(account(), any::<u16>(), 0..4),
        btree_map(public_key(), any::<u16>(), 0..4),
    )
        .prop_map(|(weight_threshold, account_auths, key_auths)| Authority {
            weight_threshold,
            account_auths,
            key_auths,
        })
}

/// Vote types 0..=2 only: the JSON reader refuses other types (validation would too).
fn vote_id() -> impl Strategy<Value = VoteId> {
    (0u8..=2, 0u32..(1 << 24)).prop_map(|(t, i)| VoteId::new(t, i))
}

fn account_options() -> impl Strategy<Value = AccountOptions> {
    (
        public_key(),
        account(),
        any::<u16>(),
        any::<u16>(),
        btree_set(vote_id(), 0..5),
    )
        .prop_map(
            |(memo_key, voting_account, num_witness, num_committee, votes)| AccountOptions {
                memo_key,
                voting_account,
                num_witness,
                num_committee,
                votes,
                extensions: Default::default(),
            },
        )
}

fn transfer() -> impl Strategy<Value = Operation> {
    (asset(), account(), account(), asset(), memo()).prop_map(|(fee, from, to, amount, memo)| {
        Operation::Transfer(TransferOperation {
            fee,
            from,
            to,
            amount,
            memo,
            extensions: Default::default(),
        })
    })
}

fn account_create() -> impl Strategy<Value = Operation> {
    (
        asset(),
        account(),
        account(),
        any::<u16>(),
        // Any Unicode: the codec carries strings as UTF-8 whatever validation says.
        any::<String>(),
        authority(),
        authority(),
        account_options(),
    )
        .prop_map(
            |(fee, registrar, referrer, referrer_percent, name, owner, active, options)| {
                Operation::AccountCreate(AccountCreateOperation {
                    fee,
                    registrar,
                    referrer,
                    referrer_percent,
                    name,
                    owner,
                    active,
                    options,
                    extensions: Default::default(),
                })
            },
        )
}

fn asset_issue() -> impl Strategy<Value = Operation> {
    (asset(), account(), asset(), account(), memo()).prop_map(
        |(fee, issuer, asset_to_issue, issue_to_account, memo)| {
            Operation::AssetIssue(AssetIssueOperation {
                fee,
                issuer,
                asset_to_issue,
                issue_to_account,
                memo,
                extensions: Default::default(),
            })
        },
    )
}

fn limit_order_create() -> impl Strategy<Value = Operation> {
    (asset(), account(), asset(), asset(), time(), any::<bool>()).prop_map(
        |(fee, seller, amount_to_sell, min_to_receive, expiration, fill_or_kill)| {
            Operation::LimitOrderCreate(LimitOrderCreateOperation {
                fee,
                seller,
                amount_to_sell,
                min_to_receive,
                expiration,
                fill_or_kill,
                extensions: Default::default(),
            })
        },
    )
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        transfer(),
        account_create(),
        asset_issue(),
        limit_order_create()
    ]
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (any::<u16>(), any::<u32>(), time(), vec(operation(), 0..4)).prop_map(
        |(ref_block_num, ref_block_prefix, expiration, operations)| Transaction {
            ref_block_num,
            ref_block_prefix,
            expiration,
            operations,
            extensions: Default::default(),
        },
    )
}

fn signed_transaction() -> impl Strategy<Value = SignedTransaction> {
    (
        transaction(),
        vec(signature(), 0..3),
        vec(public_key(), 0..3),
    )
        .prop_map(|(trx, signatures, signer_keys)| SignedTransaction {
            trx,
            signatures: signatures.into(),
            signer_keys: signer_keys.into(),
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite the byte at `index % len`.
    Set(usize, u8),
    /// XOR the byte at `index % len` with a one-bit mask.
    Flip(usize, u8),
    /// Insert a byte before `index % (len + 1)`.
    Insert(usize, u8),
    Remove(usize),
    /// Keep only the first `index % len` bytes.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, 1 << bit)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *m {
        Mutation::Set(i, b) => bytes[i % len] = b,
        Mutation::Flip(i, mask) => bytes[i % len] ^= mask,
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
    }
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) Transactions survive borsh and JSON unchanged, and both paths agree on bytes.
    #[test]
    fn transaction_round_trips(trx in transaction()) {
        let bytes = encode(&trx);
        let back: Transaction = codec::decode("transaction", &bytes, MAX).unwrap();
        prop_assert_eq!(&back, &trx);

        let json = serde_json::to_string(&trx).unwrap();
        let from_json: Transaction = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&from_json, &trx);
        prop_assert_eq!(encode(&from_json), bytes);
        prop_assert_eq!(from_json.id(), trx.id());
    }

    #[test]
    fn signed_transaction_round_trips(st in signed_transaction()) {
        let bytes = encode(&st);
        prop_assert_eq!(
            bytes.len(),
            encode(&st.trx).len() + 8 + 64 * st.signatures.len() + 32 * st.signer_keys.len()
        );
        prop_assert_eq!(&decode_signed(&bytes).unwrap(), &st);

        let json = serde_json::to_string(&st).unwrap();
        let from_json: SignedTransaction = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&from_json, &st);
        // Pretty-printed JSON reads the same.
        let pretty = serde_json::to_string_pretty(&st).unwrap();
        prop_assert_eq!(&serde_json::from_str::<SignedTransaction>(&pretty).unwrap(), &st);
    }

    #[test]
    fn operation_round_trips(op in operation()) {
        let bytes = encode(&op);
        prop_assert_eq!(bytes[0], op.tag());
        prop_assert_eq!(&codec::decode::<Operation>("operation", &bytes, MAX).unwrap(), &op);
        let json = serde_json::to_value(&op).unwrap();
        prop_assert_eq!(&json[0], &serde_json::json!(op.tag()));
        prop_assert_eq!(&serde_json::from_value::<Operation>(json).unwrap(), &op);
    }

    /// (b) Canonicality: whatever a mutated encoding decodes to re-encodes to exactly
    /// the mutated bytes.
    #[test]
    fn mutated_encodings_are_canonical_or_rejected(
        st in signed_transaction(),
        mutations in vec(mutation(), 1..4),
    ) {
        let mut bytes = encode(&st);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(v) = decode_signed(&bytes) {
            prop_assert_eq!(encode(&v), bytes);
        }
    }

    /// The verify stage hashes the bytes a transaction arrived in rather than encoding
    /// it again. By canonicality the two agree: id, signing digest, merkle leaf, size.
    #[test]
    fn hashing_the_received_bytes_equals_hashing_the_encoding(
        st in signed_transaction(),
        mutations in vec(mutation(), 0..3),
        chain in any::<[u8; 32]>(),
    ) {
        let chain_id = ChainId(chain);
        let mut bytes = encode(&st);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(v) = decode_signed(&bytes) {
            let in_place = hash_decoded(v.clone(), &bytes, &chain_id);
            let encoded = hash_transaction(v, &chain_id);
            match (in_place, encoded) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a.id, b.id);
                    prop_assert_eq!(a.digest, b.digest);
                    prop_assert_eq!(a.merkle_leaf, b.merkle_leaf);
                    prop_assert_eq!(a.packed_size, b.packed_size);
                    prop_assert_eq!(a.packed_size as usize, bytes.len());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "disagree: {:?} / {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    /// A verify worker hashes a batch at once (`hash_decoded_batch`, several SHA-256
    /// streams side by side): the same results, in order, as one at a time, invalid
    /// transactions included.
    #[test]
    fn hashing_a_batch_equals_hashing_each(
        batch in vec((signed_transaction(), vec(mutation(), 0..2)), 0..9),
        chain in any::<[u8; 32]>(),
    ) {
        let chain_id = ChainId(chain);
        let mut decoded = Vec::new();
        for (st, mutations) in &batch {
            let mut bytes = encode(st);
            for m in mutations {
                apply(&mut bytes, m);
            }
            if let Ok(v) = decode_signed(&bytes) {
                decoded.push((v, bytes));
            }
        }
        let together = hash_decoded_batch(
            decoded.iter().map(|(v, b)| (std::sync::Arc::new(v.clone()), &b[..])).collect(),
            &chain_id,
        );
        prop_assert_eq!(together.len(), decoded.len());
        for ((v, bytes), t) in decoded.iter().zip(together) {
            match (hash_decoded(v.clone(), bytes, &chain_id), t) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a.id, b.id);
                    prop_assert_eq!(a.digest, b.digest);
                    prop_assert_eq!(a.merkle_leaf, b.merkle_leaf);
                    prop_assert_eq!(a.packed_size, b.packed_size);
                    prop_assert_eq!(&*a.trx, &*b.trx);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "disagree: {:?} / {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    /// (b) The same for single-byte overwrites at every position of one encoding.
    #[test]
    fn every_single_byte_change_is_canonical_or_rejected(
        st in signed_transaction(),
        value in any::<u8>(),
    ) {
        let original = encode(&st);
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] = value;
            if let Ok(v) = decode_signed(&bytes) {
                prop_assert_eq!(encode(&v), bytes, "byte {} set to {:#04x}", i, value);
            }
        }
    }

    /// (c) Arbitrary bytes never panic, and whatever decodes is canonical.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(v) = decode_signed(&bytes) {
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        if let Ok(v) = codec::decode::<Transaction>("transaction", &bytes, MAX) {
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        if let Ok(v) = codec::decode::<Operation>("operation", &bytes, MAX) {
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        let _ = codec::decode::<SignedBlock>("block", &bytes, MAX);
    }

    /// (c) Arbitrary bytes behind a plausible prefix (one transfer-sized operation
    /// count, a known tag) reach deeper into the decoders without panicking.
    #[test]
    fn plausible_prefixes_never_panic(
        head in vec(any::<u8>(), 10),
        tag in 0u8..=50,
        tail in vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = head;
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.push(tag);
        bytes.extend_from_slice(&tail);
        if let Ok(v) = decode_signed(&bytes) {
            prop_assert_eq!(encode(&v), bytes);
        }
    }
}

// ---------------------------------------------------------------------------------
// Unit tests: each rule of PROTOCOL.md section 12
// ---------------------------------------------------------------------------------

fn sample_transfer() -> Operation {
    Operation::Transfer(TransferOperation {
        fee: Asset::core(2_000_000),
        from: AccountId(17),
        to: AccountId(18),
        amount: Asset::core(100_000),
        memo: None,
        extensions: Default::default(),
    })
}

fn signed_with(ops: Vec<Operation>) -> SignedTransaction {
    let mut st = SignedTransaction {
        trx: Transaction {
            ref_block_num: 1,
            ref_block_prefix: 2,
            expiration: TimePointSec(3),
            operations: ops,
            extensions: Default::default(),
        },
        signatures: Default::default(),
        signer_keys: Default::default(),
    };
    st.sign(&PrivateKey::from_label("codec"), &ChainId([7; 32]));
    st
}

/// `sample_transfer`'s `amount` (100000 of 1.3.0): unique in its encoding.
const AMOUNT_TAIL: [u8; 16] = [0xa0, 0x86, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// Replaces the only occurrence of `needle` in `hay` by `with`.
fn replace_once(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let hits: Vec<usize> = (0..=hay.len() - needle.len())
        .filter(|&i| &hay[i..i + needle.len()] == needle)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "needle {} must occur once",
        hex::encode(needle)
    );
    let i = hits[0];
    [&hay[..i], with, &hay[i + needle.len()..]].concat()
}

fn malformed(r: Result<SignedTransaction, CodecError>) -> String {
    match r {
        Err(CodecError::Malformed { reason, .. }) => reason,
        other => panic!("expected a malformed-input error, got {other:?}"),
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let bytes = encode(&signed_with(vec![sample_transfer()]));
    assert!(decode_signed(&bytes).is_ok());
    for extra in [&[0u8][..], &[1], &[0, 0, 0, 0]] {
        let mut b = bytes.clone();
        b.extend_from_slice(extra);
        malformed(decode_signed(&b));
    }
}

#[test]
fn truncated_input_is_rejected() {
    let bytes = encode(&signed_with(vec![sample_transfer()]));
    for len in 0..bytes.len() {
        malformed(decode_signed(&bytes[..len]));
    }
}

#[test]
fn oversized_input_is_rejected() {
    let bytes = encode(&signed_with(vec![sample_transfer()]));
    assert!(matches!(
        codec::decode::<SignedTransaction>("signed transaction", &bytes, bytes.len() - 1),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn bool_byte_2_is_rejected() {
    let order = Operation::LimitOrderCreate(LimitOrderCreateOperation {
        fee: Asset::core(0),
        seller: AccountId(17),
        amount_to_sell: Asset::core(100),
        min_to_receive: Asset::new(5, AssetId(1)),
        expiration: TimePointSec(0xdead_beef),
        fill_or_kill: true,
        extensions: Default::default(),
    });
    let bytes = encode(&signed_with(vec![order]));
    // expiration ‖ fill_or_kill ‖ extensions
    let good = [0xef, 0xbe, 0xad, 0xde, 0x01, 0, 0, 0, 0];
    let bad = [0xef, 0xbe, 0xad, 0xde, 0x02, 0, 0, 0, 0];
    let mutated = replace_once(&bytes, &good, &bad);
    assert_eq!(mutated.len(), bytes.len());
    let reason = malformed(decode_signed(&mutated));
    assert!(reason.to_lowercase().contains("bool"), "{reason}");
    // 0 is the other valid value.
    let zero = replace_once(&bytes, &good, &[0xef, 0xbe, 0xad, 0xde, 0x00, 0, 0, 0, 0]);
    assert!(decode_signed(&zero).is_ok());
}

#[test]
fn option_tag_2_is_rejected() {
    let bytes = encode(&signed_with(vec![sample_transfer()]));
    // amount ‖ memo tag ‖ op extensions ‖ trx extensions
    let good = [AMOUNT_TAIL.as_slice(), &[0x00], &[0; 8]].concat();
    let bad = [AMOUNT_TAIL.as_slice(), &[0x02], &[0; 8]].concat();
    malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
}

fn create_with_account_auths(auths: &[u64]) -> Operation {
    let key = PrivateKey::from_label("owner").public_key();
    let mut owner = Authority::single_key(key);
    owner.account_auths = auths.iter().map(|&a| (AccountId(a), 1u16)).collect();
    Operation::AccountCreate(AccountCreateOperation {
        fee: Asset::core(500_000),
        registrar: AccountId(17),
        referrer: AccountId(17),
        referrer_percent: 0,
        name: "alice1".into(),
        owner,
        active: Authority::single_key(key),
        options: AccountOptions::with_memo_key(key),
        extensions: Default::default(),
    })
}

#[test]
fn unsorted_and_duplicate_set_keys_are_rejected() {
    let bytes = encode(&signed_with(vec![create_with_account_auths(&[
        0x1001, 0x2002,
    ])]));
    assert!(decode_signed(&bytes).is_ok());
    let entry = |a: u64| [a.to_le_bytes().as_slice(), &1u16.to_le_bytes()].concat();
    let sorted = [2u32.to_le_bytes().to_vec(), entry(0x1001), entry(0x2002)].concat();
    let unsorted = [2u32.to_le_bytes().to_vec(), entry(0x2002), entry(0x1001)].concat();
    let duplicate = [2u32.to_le_bytes().to_vec(), entry(0x1001), entry(0x1001)].concat();
    let reason = malformed(decode_signed(&replace_once(&bytes, &sorted, &unsorted)));
    assert!(reason.contains("ascending"), "{reason}");
    malformed(decode_signed(&replace_once(&bytes, &sorted, &duplicate)));

    // The order is numeric, not byte-wise: 5 < 256 although 256 starts with 00.
    let numeric = encode(&signed_with(vec![create_with_account_auths(&[5, 256])]));
    let first = numeric
        .windows(10)
        .position(|w| w == entry(5).as_slice())
        .unwrap();
    let second = numeric
        .windows(10)
        .position(|w| w == entry(256).as_slice())
        .unwrap();
    assert!(first < second);
    assert!(decode_signed(&numeric).is_ok());

    // A set proper: the votes of account options.
    let mut votes = AccountOptions::with_memo_key(PublicKey::NULL);
    votes.votes = BTreeSet::from([VoteId::new(1, 3), VoteId::new(1, 4)]);
    let vb = encode(&votes);
    let sorted = [
        2u32.to_le_bytes(),
        VoteId::new(1, 3).0.to_le_bytes(),
        VoteId::new(1, 4).0.to_le_bytes(),
    ]
    .concat();
    let unsorted = [
        2u32.to_le_bytes(),
        VoteId::new(1, 4).0.to_le_bytes(),
        VoteId::new(1, 3).0.to_le_bytes(),
    ]
    .concat();
    let bad = replace_once(&vb, &sorted, &unsorted);
    assert!(codec::decode::<AccountOptions>("options", &bad, MAX).is_err());
}

#[test]
fn non_empty_extensions_are_rejected() {
    let st = signed_with(vec![sample_transfer()]);
    let unsigned = encode(&st.trx);
    // The transaction's own extensions are its last four bytes.
    let n = unsigned.len();
    assert_eq!(&unsigned[n - 4..], &[0, 0, 0, 0]);
    for count in [1u32, 0x0100_0000] {
        let mut bad = unsigned.clone();
        bad[n - 4..].copy_from_slice(&count.to_le_bytes());
        let mut signed = bad.clone();
        signed.extend_from_slice(&encode(&st)[n..]);
        let reason = malformed(decode_signed(&signed));
        assert!(reason.contains("extensions must be empty"), "{reason}");
        // Even with a plausible extension body after the count.
        bad.extend_from_slice(&[0, 0]);
        assert!(codec::decode::<Transaction>("transaction", &bad, MAX).is_err());
    }
    // The operation's extensions too: amount ‖ memo ‖ op extensions ‖ trx extensions.
    let bytes = encode(&st);
    let good = [AMOUNT_TAIL.as_slice(), &[0], &[0, 0, 0, 0], &[0, 0, 0, 0]].concat();
    let bad = [AMOUNT_TAIL.as_slice(), &[0], &[1, 0, 0, 0], &[0, 0, 0, 0]].concat();
    malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
    // JSON: `[]` only.
    let json = serde_json::to_string(&st).unwrap();
    assert!(
        json.contains(r#"}]],"extensions":[],"signatures":"#),
        "{json}"
    );
    let bad_json = json.replacen(r#"}]],"extensions":[]"#, r#"}]],"extensions":[1]"#, 1);
    assert_ne!(bad_json, json);
    assert!(serde_json::from_str::<SignedTransaction>(&bad_json).is_err());
}

#[test]
fn reserved_operation_tags_are_rejected() {
    let st = signed_with(vec![sample_transfer()]);
    let bytes = encode(&st);
    // ops count 1 ‖ tag 0 ‖ fee.amount
    let good = [
        1u32.to_le_bytes().as_slice(),
        &[0],
        &2_000_000i64.to_le_bytes(),
    ]
    .concat();
    for (tag, name) in [
        (39u8, "transfer_to_blind"),
        (40, "blind_transfer"),
        (41, "transfer_from_blind"),
        (44, "fba_distribute"),
    ] {
        let bad = [
            1u32.to_le_bytes().as_slice(),
            &[tag],
            &2_000_000i64.to_le_bytes(),
        ]
        .concat();
        let reason = malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
        assert!(
            reason.contains(name) && reason.contains("reserved"),
            "{reason}"
        );
        assert_eq!(Operation::name_of_tag(tag), Some(name));
        // JSON refuses them as well.
        let json = serde_json::to_string(&st)
            .unwrap()
            .replacen("[[0,{", &format!("[[{tag},{{"), 1);
        let err = serde_json::from_str::<SignedTransaction>(&json).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
    for tag in [49u8, 200, 255] {
        let bad = [
            1u32.to_le_bytes().as_slice(),
            &[tag],
            &2_000_000i64.to_le_bytes(),
        ]
        .concat();
        let reason = malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
        assert!(reason.contains("unknown operation tag"), "{reason}");
    }
}

#[test]
fn invalid_utf8_is_rejected() {
    let bytes = encode(&signed_with(vec![create_with_account_auths(&[])]));
    let good = [6u32.to_le_bytes().as_slice(), b"alice1"].concat();
    let bad = [6u32.to_le_bytes().as_slice(), b"alic\xff1"].concat();
    malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
}

#[test]
fn instance_beyond_48_bits_is_rejected() {
    let bytes = encode(&signed_with(vec![sample_transfer()]));
    // from = 1.2.17
    let good = [17u64.to_le_bytes(), 18u64.to_le_bytes()].concat();
    let bad = [(INSTANCE_MAX + 1).to_le_bytes(), 18u64.to_le_bytes()].concat();
    let reason = malformed(decode_signed(&replace_once(&bytes, &good, &bad)));
    assert!(reason.contains("48 bits"), "{reason}");
    let max = [INSTANCE_MAX.to_le_bytes(), 18u64.to_le_bytes()].concat();
    assert!(decode_signed(&replace_once(&bytes, &good, &max)).is_ok());
}

fn nested_proposal(levels: u32) -> Operation {
    let mut op = sample_transfer();
    for _ in 1..levels {
        op = Operation::ProposalCreate(ProposalCreateOperation {
            fee: Asset::core(0),
            fee_paying_account: AccountId(17),
            expiration_time: TimePointSec(100),
            proposed_ops: vec![op],
            review_period_seconds: None,
            extensions: Default::default(),
        });
    }
    op
}

#[test]
fn nesting_deeper_than_four_is_rejected() {
    let ok = encode(&signed_with(vec![nested_proposal(4)]));
    assert!(decode_signed(&ok).is_ok());
    let deep = encode(&signed_with(vec![nested_proposal(5)]));
    let reason = malformed(decode_signed(&deep));
    assert!(reason.contains("nested"), "{reason}");
    // The depth counter is restored after errors: a valid decode still works.
    assert!(decode_signed(&ok).is_ok());
}

#[test]
fn json_conventions() {
    let mut st = signed_with(vec![sample_transfer()]);
    if let Operation::Transfer(t) = &mut st.trx.operations[0] {
        t.amount = Asset::core(100_000_000_000_000);
    }
    let v = serde_json::to_value(&st).unwrap();
    let op = &v["operations"][0];
    assert_eq!(op[0], 0);
    assert_eq!(op[1]["from"], "1.2.17");
    assert_eq!(op[1]["fee"]["amount"], 2_000_000);
    // Beyond i32: a string.
    assert_eq!(op[1]["amount"]["amount"], "100000000000000");
    assert_eq!(v["expiration"], "1970-01-01T00:00:03");
    // Readers accept numbers or strings for 64-bit fields.
    let mut w = v.clone();
    w["operations"][0][1]["fee"]["amount"] = serde_json::json!("2000000");
    w["operations"][0][1]["amount"]["amount"] = serde_json::json!(100_000_000_000_000i64);
    assert_eq!(
        serde_json::from_value::<SignedTransaction>(w.clone()).unwrap(),
        st
    );
    // An absent option reads as none; unknown keys are ignored (PROTOCOL.md section 9).
    assert_eq!(w["operations"][0][1]["memo"], serde_json::Value::Null);
    w["operations"][0][1]
        .as_object_mut()
        .unwrap()
        .remove("memo");
    w["operations"][0][1]["unknown"] = serde_json::json!(1);
    w["unknown"] = serde_json::json!("x");
    assert_eq!(serde_json::from_value::<SignedTransaction>(w).unwrap(), st);

    // Maps are arrays of pairs; a duplicate key is refused.
    let auth = Authority {
        weight_threshold: 1,
        account_auths: BTreeMap::from([(AccountId(5), 1)]),
        key_auths: BTreeMap::new(),
    };
    let j = serde_json::to_value(&auth).unwrap();
    assert_eq!(j["account_auths"], serde_json::json!([["1.2.5", 1]]));
    let dup = serde_json::json!({
        "weight_threshold": 1,
        "account_auths": [["1.2.5", 1], ["1.2.5", 2]],
        "key_auths": []
    });
    assert!(serde_json::from_value::<Authority>(dup).is_err());
}
