//! The consensus signature rule (ZIP-215): our verifier against the reference
//! implementations ed25519-zebra and ed25519-consensus, on the speccheck edge cases and
//! on random and adversarial inputs.

use carbyne::pipeline::verify::rule;
use carbyne::protocol::{PrivateKey, PublicKey, Signature};
use proptest::prelude::*;

fn ours(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    rule::verify(&PublicKey(*key), msg, &Signature(*sig)).is_ok()
}

fn zebra(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = ed25519_zebra::VerificationKey::try_from(*key) else {
        return false;
    };
    vk.verify(&ed25519_zebra::Signature::from(*sig), msg)
        .is_ok()
}

fn consensus(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = ed25519_consensus::VerificationKey::try_from(*key) else {
        return false;
    };
    vk.verify(&ed25519_consensus::Signature::from(*sig), msg)
        .is_ok()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}
fn hex64(s: &str) -> [u8; 64] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn speccheck_cases_match_the_references() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ed25519-speccheck-cases.json"
    ))
    .unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 10);
    let mut verdicts = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let msg = hex::decode(c["message"].as_str().unwrap()).unwrap();
        let key = hex32(c["pub_key"].as_str().unwrap());
        let sig = hex64(c["signature"].as_str().unwrap());
        let (o, z, n) = (
            ours(&key, &msg, &sig),
            zebra(&key, &msg, &sig),
            consensus(&key, &msg, &sig),
        );
        assert_eq!(o, z, "case {i}: ours {o}, zebra {z}");
        assert_eq!(o, n, "case {i}: ours {o}, ed25519-consensus {n}");
        verdicts.push(o);
    }
    // Pinned, as the references decide: ZIP-215 accepts the small-order and
    // mixed-order cases 0–5 and the non-canonically encoded point of case 9, and
    // rejects cases 6–8.
    assert_eq!(verdicts, PINNED_VERDICTS, "verdicts changed: {verdicts:?}");
}

const PINNED_VERDICTS: [bool; 10] = [
    true, true, true, true, true, true, false, false, false, true,
];

/// Points of small order (their encodings), used to build adversarial keys and R.
const SMALL_ORDER: [&str; 4] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_and_adversarial_inputs_agree(
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..64),
        mutation in 0u8..8,
        byte in 0usize..64,
        bits in 1u8..=255,
        which in 0usize..4,
    ) {
        let k = PrivateKey::from_seed(seed);
        let mut key = k.public_key().0;
        let mut sig = k.sign(&msg).0;
        match mutation {
            0 => {}
            1 => sig[byte] ^= bits,
            2 => key[byte % 32] ^= bits,
            // S + L: the same scalar, non-canonical.
            3 => {
                let l = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
                let mut carry = 0u16;
                for i in 0..32 {
                    let v = sig[32 + i] as u16 + l[i] as u16 + carry;
                    sig[32 + i] = v as u8;
                    carry = v >> 8;
                }
            }
            4 => key = hex32(SMALL_ORDER[which]),
            5 => sig[..32].copy_from_slice(&hex32(SMALL_ORDER[which])),
            // Non-canonical y encodings (y >= p).
            6 => { key = [0xff; 32]; key[31] = 0x7f; key[0] = 0xed + (bits % 0x12); }
            _ => { sig[..32].copy_from_slice(&[0xff; 32]); sig[31] = 0x7f; sig[0] = 0xee; }
        }
        let o = ours(&key, &msg, &sig);
        prop_assert_eq!(o, zebra(&key, &msg, &sig));
        prop_assert_eq!(o, consensus(&key, &msg, &sig));
    }
}

fn speccheck() -> Vec<(Vec<u8>, [u8; 32], [u8; 64])> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ed25519-speccheck-cases.json"
    ))
    .unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    cases
        .iter()
        .map(|c| {
            (
                hex::decode(c["message"].as_str().unwrap()).unwrap(),
                hex32(c["pub_key"].as_str().unwrap()),
                hex64(c["signature"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Batch verdicts must equal single verdicts, item by item, whichever way a failed
/// batch is settled.
fn check_batch(entries: &[(Vec<u8>, [u8; 32], [u8; 64])]) {
    let keys: Vec<PublicKey> = entries.iter().map(|e| PublicKey(e.1)).collect();
    let sigs: Vec<Signature> = entries.iter().map(|e| Signature(e.2)).collect();
    let items: Vec<rule_cpu::Item<'_>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| rule_cpu::Item {
            key: &keys[i],
            decoded: None,
            message: &e.0,
            signature: &sigs[i],
        })
        .collect();
    let batch = rule_cpu::verify_batch(&items);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            batch[i],
            ours(&e.1, &e.0, &e.2),
            "item {i} of {}",
            entries.len()
        );
        assert_eq!(batch[i], zebra(&e.1, &e.0, &e.2), "item {i}: zebra");
    }
    assert_eq!(
        rule_cpu::verify_batch_with(&items, rule_cpu::OnFailure::Singles),
        batch,
        "settling signature by signature gives other verdicts"
    );
    // Under a flood: split into connection runs of every shape (including runs that
    // do not cover every item), pooled in groups of several sizes.
    let n = items.len();
    for runs in [
        vec![],
        vec![n],
        vec![1; n],
        vec![n / 3, n / 3],
        vec![0, 2, n],
    ] {
        for group in [1, 7, 64] {
            assert_eq!(
                rule_cpu::verify_flooded(&items, &runs, group),
                batch,
                "flood settling with runs {runs:?}, groups of {group}"
            );
        }
    }
}

use carbyne::pipeline::verify::cpu as rule_cpu;

fn valid(n: usize, salt: u8) -> Vec<(Vec<u8>, [u8; 32], [u8; 64])> {
    (0..n)
        .map(|i| {
            let k = PrivateKey::from_label(&format!("batch-{salt}-{i}"));
            let msg = vec![salt, i as u8, (i >> 8) as u8];
            let sig = k.sign(&msg).0;
            (msg, k.public_key().0, sig)
        })
        .collect()
}

#[test]
fn batches_give_the_single_verdicts_with_edge_cases_mixed_in() {
    // All valid, at sizes around the algorithm switch and the sweet spot.
    for n in [1, 3, 4, 16, 64, 200, 256] {
        check_batch(&valid(n, 1));
    }
    // Each speccheck case alone, and all of them spread through a valid batch.
    let spec = speccheck();
    for case in &spec {
        check_batch(std::slice::from_ref(case));
    }
    let mut mixed = valid(120, 2);
    for (j, case) in spec.iter().enumerate() {
        mixed.insert(j * 11 + 3, case.clone());
    }
    check_batch(&mixed);
    // A batch with one forged signature among 255 valid ones.
    let mut one_bad = valid(256, 3);
    one_bad[97].2[5] ^= 1;
    check_batch(&one_bad);
    // A flooding connection's group: the first and most signatures forged.
    let mut flood = valid(64, 5);
    for (i, e) in flood.iter_mut().enumerate() {
        if i % 5 != 3 {
            e.2[40] ^= 0x10;
        }
    }
    check_batch(&flood);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn batch_matches_single_with_random_corruption(
        n in 1usize..80,
        corrupt in proptest::collection::vec((0usize..80, 0usize..96, 1u8..=255), 0..6),
    ) {
        let mut entries = valid(n, 4);
        for (pos, byte, bits) in corrupt {
            let e = &mut entries[pos % n];
            if byte < 64 { e.2[byte] ^= bits } else { e.1[byte - 64] ^= bits }
        }
        check_batch(&entries);
    }
}
