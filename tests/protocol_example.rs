//! The worked example of `docs/PROTOCOL.md` section 14, rebuilt with our code.
//!
//! Every hex value of the example is hard-coded here, checked against what the code
//! produces, and checked to appear in the document, so that neither can drift.

use carbyne::chain::genesis::GenesisState;
use carbyne::pipeline::verify::rule;
use carbyne::protocol::block::merkle_root;
use carbyne::protocol::codec::{self, encode, sha256};
use carbyne::protocol::operations::TransferOperation;
use carbyne::protocol::*;
use carbyne::test_utils::TEST_GENESIS_TIME;

const CHAIN_ID: &str = "fc59629d5b3cc36365a3052c739bff19dbe8b024829d71cf89ee422668c43839";
const REF_BLOCK_ID: &str = "00011170d4c3b2a1000000000000000000000000000000000000000000000000";
const UNSIGNED: &str = "7011d4c3b2a13cb95569010000000080841e0000000000000000000000000011000000000000001200000000000000a0860100000000000000000000000000000000000000000000";
const TRANSACTION_ID: &str = "ee891ce99cb540eadd85a24cb2953b567fd11dba5aec488f6e97d59460805093";
const SIGNING_DIGEST: &str = "c07b8472c764adb9d8c0540cae0e9c981eb828e1a10ffb6110ac9f486bd116bb";
const SEED: &str = "3e0582aae97eb030284bf1997c50382428a4392e063af2ecf72dc598948a7d5c";
const WIF: &str = "5JHbqZi3M4LK7wv6QQXf7LG3Vv3gbLfQNnXQ9hyQfc3WGy4LPQv";
const PUBLIC_KEY: &str = "63db2eeb057ffc9e98450120a3a2a3cc955e1aa58205459cff9de03a9c9173c8";
const PUBLIC_KEY_TEXT: &str = "CBYkyh9ceyTGgphwumA73b8JgUS83AEsXcyYHEWGS8FMdtysTZvm";
const SIGNATURE: &str = "c006b2d26c708fc2311addd5b5d487aa85a355a1c0127d243e52980427504bd9dcfa2abbafab8291e8e440e97c5e6d70eca9715d11afde46412fdb0a6e258d07";
const SIGNED: &str = "7011d4c3b2a13cb95569010000000080841e0000000000000000000000000011000000000000001200000000000000a086010000000000000000000000000000000000000000000001000000c006b2d26c708fc2311addd5b5d487aa85a355a1c0127d243e52980427504bd9dcfa2abbafab8291e8e440e97c5e6d70eca9715d11afde46412fdb0a6e258d070100000063db2eeb057ffc9e98450120a3a2a3cc955e1aa58205459cff9de03a9c9173c8";
const FRAME_HEADER: &str = "b0000000";
const MERKLE_LEAF: &str = "e5e167071c08d81c0fbcf95ead33718847d838ec6455dd4e2d8d30a4985dc3d1";
const JSON: &str = r#"{"ref_block_num":4464,"ref_block_prefix":2712847316,"expiration":"2026-01-01T00:01:00","operations":[[0,{"fee":{"amount":2000000,"asset_id":"1.3.0"},"from":"1.2.17","to":"1.2.18","amount":{"amount":100000,"asset_id":"1.3.0"},"memo":null,"extensions":[]}]],"extensions":[],"signatures":["c006b2d26c708fc2311addd5b5d487aa85a355a1c0127d243e52980427504bd9dcfa2abbafab8291e8e440e97c5e6d70eca9715d11afde46412fdb0a6e258d07"],"signer_keys":["CBYkyh9ceyTGgphwumA73b8JgUS83AEsXcyYHEWGS8FMdtysTZvm"]}"#;

/// Every value above, with the name used in failure messages.
const ALL: [(&str, &str); 14] = [
    ("chain id", CHAIN_ID),
    ("referenced block id", REF_BLOCK_ID),
    ("unsigned transaction", UNSIGNED),
    ("transaction id", TRANSACTION_ID),
    ("signing digest", SIGNING_DIGEST),
    ("seed", SEED),
    ("WIF", WIF),
    ("public key", PUBLIC_KEY),
    ("public key text", PUBLIC_KEY_TEXT),
    ("signature", SIGNATURE),
    ("signed transaction", SIGNED),
    ("frame header", FRAME_HEADER),
    ("merkle leaf", MERKLE_LEAF),
    ("JSON", JSON),
];

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn chain_id() -> ChainId {
    CHAIN_ID.parse().unwrap()
}

fn dev_key() -> PrivateKey {
    PrivateKey::from_brain_key("CARBYNE DEV ACCOUNT KEY", 0)
}

fn example_transaction() -> Transaction {
    let block: BlockId = REF_BLOCK_ID.parse().unwrap();
    Transaction {
        ref_block_num: (block.block_num() & 0xFFFF) as u16,
        ref_block_prefix: block.tapos_prefix(),
        expiration: TEST_GENESIS_TIME.saturating_add(60),
        operations: vec![Operation::Transfer(TransferOperation {
            fee: Asset::core(2_000_000),
            from: AccountId(17),
            to: AccountId(18),
            amount: Asset::core(100_000),
            memo: None,
            extensions: Default::default(),
        })],
        extensions: Default::default(),
    }
}

fn example_signed() -> SignedTransaction {
    let mut s = SignedTransaction {
        trx: example_transaction(),
        signatures: Default::default(),
        signer_keys: Default::default(),
    };
    s.sign(&dev_key(), &chain_id());
    s
}

/// The first whitespace-separated token of each line of the code block that follows
/// `marker` in the document, concatenated: the annotated hex dumps.
fn annotated_block(doc: &str, marker: &str) -> String {
    let start = doc
        .find(marker)
        .unwrap_or_else(|| panic!("PROTOCOL.md lacks the marker {marker}"));
    let rest = &doc[start..];
    let open = rest.find("```").expect("a code block after the marker");
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let close = body.find("```").expect("the code block ends");
    body[..close]
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn inputs() {
    let block: BlockId = REF_BLOCK_ID.parse().unwrap();
    assert_eq!(block.block_num(), 70_000);
    assert_eq!(block.tapos_prefix(), 0xa1b2_c3d4);
    let trx = example_transaction();
    assert_eq!(trx.ref_block_num, 4464);
    assert_eq!(trx.ref_block_prefix, 2_712_847_316);
    assert_eq!(trx.expiration.0, 1_767_225_660);
    assert_eq!(trx.expiration.to_string(), "2026-01-01T00:01:00");
}

/// The example's chain id is the dev genesis's. If the genesis or the chain parameters
/// change, only this test fails: update `CHAIN_ID` and regenerate the example.
#[test]
fn chain_id_is_the_dev_genesis() {
    assert_eq!(
        GenesisState::dev(TEST_GENESIS_TIME).chain_id().to_string(),
        CHAIN_ID,
        "the dev genesis changed: regenerate docs/PROTOCOL.md section 14"
    );
    // The sender is the dev chain's `dev` account, as the document says.
    let dev = carbyne::test_utils::DevChain::new();
    assert_eq!(dev.chain.chain_id().to_string(), CHAIN_ID);
    assert_eq!(dev.id("dev"), AccountId(17));
}

#[test]
fn unsigned_bytes_and_hashes() {
    let trx = example_transaction();
    let unsigned = encode(&trx);
    assert_eq!(hex::encode(&unsigned), UNSIGNED);
    assert_eq!(unsigned.len(), 72);
    assert_eq!(trx.id().to_string(), TRANSACTION_ID);
    assert_eq!(hex::encode(sha256(&[&unsigned])), TRANSACTION_ID);
    assert_eq!(trx.signing_digest(&chain_id()).to_string(), SIGNING_DIGEST);
    assert_eq!(
        hex::encode(sha256(&[&chain_id().0, &unsigned])),
        SIGNING_DIGEST
    );
}

#[test]
fn key_forms() {
    let key = dev_key();
    assert_eq!(hex::encode(key.seed()), SEED);
    assert_eq!(key.to_wif(), WIF);
    assert_eq!(PrivateKey::from_wif(WIF).unwrap().seed(), key.seed());
    assert_eq!(hex::encode(key.public_key().0), PUBLIC_KEY);
    assert_eq!(key.public_key().to_string(), PUBLIC_KEY_TEXT);
    assert_eq!(
        PUBLIC_KEY_TEXT.parse::<PublicKey>().unwrap(),
        key.public_key()
    );
    // The dev key is the one the dev genesis gives the `dev` account.
    assert_eq!(
        carbyne::chain::genesis::dev_key().public_key(),
        key.public_key()
    );
}

#[test]
fn signature_and_signed_bytes() {
    let signed = example_signed();
    assert_eq!(hex::encode(signed.signatures[0].0), SIGNATURE);
    let digest = signed.trx.signing_digest(&chain_id());
    assert!(rule::verify(&signed.signer_keys[0], &digest.0, &signed.signatures[0]).is_ok());
    // Deterministic: signing again gives the same bytes.
    assert_eq!(dev_key().sign(&digest.0), signed.signatures[0]);
    let bytes = encode(&signed);
    assert_eq!(hex::encode(&bytes), SIGNED);
    assert_eq!(bytes.len(), 72 + 4 + 64 + 4 + 32);
    assert_eq!(
        hex::encode((bytes.len() as u32).to_le_bytes()),
        FRAME_HEADER
    );
    assert_eq!(
        merkle_root(std::slice::from_ref(&signed)).to_string(),
        MERKLE_LEAF
    );
    signed.validate().unwrap();

    // The bytes decode back to the same transaction, and pass the verify stage.
    let decoded: SignedTransaction =
        codec::decode("signed transaction", &hex::decode(SIGNED).unwrap(), 65_536).unwrap();
    assert_eq!(decoded, signed);
    let vtx = carbyne::pipeline::verify::verify_transaction_bytes(
        &bytes,
        &chain_id(),
        &carbyne::pipeline::verify::NoKeyHints,
    )
    .unwrap();
    assert_eq!(vtx.id.to_string(), TRANSACTION_ID);
    assert_eq!(vtx.packed_size as usize, bytes.len());
}

#[test]
fn ingest_frame() {
    let mut frame = hex::decode(FRAME_HEADER).unwrap();
    frame.extend(hex::decode(SIGNED).unwrap());
    let (body, used) = netio::split_frame(&frame).unwrap().unwrap();
    assert_eq!(used, frame.len());
    assert_eq!(hex::encode(body), SIGNED);
}

#[test]
fn json_form() {
    let signed = example_signed();
    assert_eq!(serde_json::to_string(&signed).unwrap(), JSON);
    let back: SignedTransaction = serde_json::from_str(JSON).unwrap();
    assert_eq!(back, signed);
}

/// The document contains every value, and its annotated dumps add up to the bytes.
#[test]
fn doc_matches_code() {
    let doc = doc();
    for (what, value) in ALL {
        assert!(
            doc.contains(value),
            "docs/PROTOCOL.md does not contain the example's {what}: {value}"
        );
    }
    assert_eq!(
        annotated_block(&doc, "<!-- example:unsigned -->"),
        UNSIGNED,
        "the field-by-field dump of the unsigned transaction in PROTOCOL.md 14.2"
    );
    assert_eq!(
        annotated_block(&doc, "<!-- example:signed -->"),
        SIGNED,
        "the field-by-field dump of the signed transaction in PROTOCOL.md 14.5"
    );
    assert_eq!(annotated_block(&doc, "<!-- example:json -->"), JSON);
}
