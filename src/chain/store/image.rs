//! The store's image: every consensus table, for snapshots.
//!
//! The body is the borsh encoding of, in this order: the thirteen tables that the
//! state digest covers (each as its row slots, holes included), the chain properties,
//! and the recent transaction ids as `(expiration, id)` pairs in the digest's order.
//! The derived indexes (names, symbols, keys, balances by owner, witnesses and
//! committee members by account) are not written: [`Store::decode_image`] rebuilds
//! them from the tables.
//!
//! [`Store::clone_committed`] copies the tables out of the live store at a block
//! boundary (no undo history, no derived indexes), so that the encoding, hashing and
//! writing can happen on another thread while the live store moves on. The copy
//! shares the tables' row chunks (copy-on-write, see `journal::Table`), so making it
//! costs the BLP one pointer per thousand rows, plus the recent transaction ids.

use super::journal::Table;
use super::{BalanceIndexRow, Store};
use crate::chain::objects::*;
use crate::protocol::ids::*;
use crate::protocol::{TimePointSec, TransactionId};
use borsh::{BorshDeserialize, BorshSerialize};
use std::io::{self, Read, Write};

/// Why an image could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("snapshot body: {0}")]
    Decode(#[from] io::Error),
    #[error("snapshot body: {0}")]
    Invalid(String),
}

/// The borsh encoding of the table's `Vec<Option<T>>`: u32 count, then each slot.
fn write_table<T: BorshSerialize + Clone>(w: &mut impl Write, t: &Table<T>) -> io::Result<()> {
    let n = u32::try_from(t.capacity_rows())
        .map_err(|_| io::Error::other("a table with more than 2^32 rows"))?;
    n.serialize(w)?;
    for slot in t.slots() {
        slot.serialize(w)?;
    }
    Ok(())
}
fn read_table<T: BorshDeserialize + Clone>(r: &mut impl Read) -> io::Result<Table<T>> {
    Ok(Table::from_rows(Vec::<Option<T>>::deserialize_reader(r)?))
}

impl Store {
    /// The consensus tables, copied without undo history or derived indexes: enough
    /// for [`Store::encode_image`] and [`Store::state_digest`], nothing else.
    pub fn clone_committed(&mut self) -> Store {
        Store {
            accounts: self.accounts.clone_committed(),
            account_stats: self.account_stats.clone_committed(),
            balances: self.balances.clone_committed(),
            assets: self.assets.clone_committed(),
            asset_dynamic: self.asset_dynamic.clone_committed(),
            bitassets: self.bitassets.clone_committed(),
            witnesses: self.witnesses.clone_committed(),
            committee_members: self.committee_members.clone_committed(),
            global: self.global.clone_committed(),
            dynamic: self.dynamic.clone_committed(),
            schedule: self.schedule.clone_committed(),
            block_summaries: self.block_summaries.clone_committed(),
            keys: self.keys.clone_committed(),
            chain_property: self.chain_property.clone(),
            dedup: self.dedup.clone_committed(),
            ..Store::default()
        }
    }

    /// Writes the image body (see the module documentation).
    pub fn encode_image(&self, w: &mut impl Write) -> io::Result<()> {
        write_table(w, &self.accounts)?;
        write_table(w, &self.account_stats)?;
        write_table(w, &self.balances)?;
        write_table(w, &self.assets)?;
        write_table(w, &self.asset_dynamic)?;
        write_table(w, &self.bitassets)?;
        write_table(w, &self.witnesses)?;
        write_table(w, &self.committee_members)?;
        write_table(w, &self.global)?;
        write_table(w, &self.dynamic)?;
        write_table(w, &self.schedule)?;
        write_table(w, &self.block_summaries)?;
        write_table(w, &self.keys)?;
        self.chain_property.serialize(w)?;
        (self.dedup.iter_ordered().count() as u64).serialize(w)?;
        for (exp, id) in self.dedup.iter_ordered() {
            exp.0.serialize(w)?;
            id.0.serialize(w)?;
        }
        Ok(())
    }

    /// Reads an image body and rebuilds the derived indexes: a complete store with
    /// no undo history.
    pub fn decode_image(r: &mut impl Read) -> Result<Store, ImageError> {
        let mut s = Store {
            accounts: read_table(r)?,
            account_stats: read_table(r)?,
            balances: read_table(r)?,
            assets: read_table(r)?,
            asset_dynamic: read_table(r)?,
            bitassets: read_table(r)?,
            witnesses: read_table(r)?,
            committee_members: read_table(r)?,
            global: read_table(r)?,
            dynamic: read_table(r)?,
            schedule: read_table(r)?,
            block_summaries: read_table(r)?,
            keys: read_table(r)?,
            chain_property: Option::<ChainPropertyObject>::deserialize_reader(r)?,
            ..Store::default()
        };
        let n = u64::deserialize_reader(r)?;
        let mut last = TimePointSec(0);
        s.dedup.defer_index();
        for _ in 0..n {
            let exp = TimePointSec(u32::deserialize_reader(r)?);
            let id = TransactionId(<[u8; 32]>::deserialize_reader(r)?);
            if exp < last {
                return Err(ImageError::Invalid(
                    "recent transaction ids out of order".into(),
                ));
            }
            s.dedup.record_unchecked(id, exp);
            last = exp;
        }
        s.dedup
            .build_index()
            .map_err(|id| ImageError::Invalid(format!("recent transaction id {id} is repeated")))?;
        let mut rest = [0u8; 1];
        if r.read(&mut rest)? != 0 {
            return Err(ImageError::Invalid(
                "bytes after the end of the image".into(),
            ));
        }
        s.rebuild_indexes()?;
        s.commit_all();
        Ok(s)
    }

    fn rebuild_indexes(&mut self) -> Result<(), ImageError> {
        let invalid = |what: String| Err(ImageError::Invalid(what));
        if self.global.get(0).is_none()
            || self.dynamic.get(0).is_none()
            || self.schedule.get(0).is_none()
            || self.chain_property.is_none()
        {
            return invalid("the global objects are missing".into());
        }
        for (i, key) in self.keys.iter() {
            if self.key_index.insert(*key, KeyId(i as u32)).is_some() {
                return invalid(format!("key {key} appears twice"));
            }
        }
        let mut balance_rows: Vec<BalanceIndexRow> =
            vec![BalanceIndexRow::new(); self.accounts.capacity_rows()];
        for (i, a) in self.accounts.iter() {
            if a.id.0 != i {
                return invalid(format!("account row {i} holds {}", a.id));
            }
            if self.account_by_name.insert(a.name.clone(), a.id).is_some() {
                return invalid(format!("account name {} appears twice", a.name));
            }
        }
        for (i, b) in self.balances.iter() {
            match balance_rows.get_mut(b.owner.0 as usize) {
                Some(row) => row.push((b.asset_type, AccountBalanceId(i))),
                None => return invalid(format!("balance {i} of unknown owner {}", b.owner)),
            }
        }
        for row in &mut balance_rows {
            row.sort_unstable();
            if row.windows(2).any(|w| w[0].0 == w[1].0) {
                return invalid("two balance objects for one owner and asset".into());
            }
        }
        for row in balance_rows {
            self.balance_index.create(row);
        }
        for (i, a) in self.assets.iter() {
            if a.id.0 != i
                || self
                    .asset_by_symbol
                    .insert(a.symbol.clone(), a.id)
                    .is_some()
            {
                return invalid(format!("asset row {i} ({}) is inconsistent", a.symbol));
            }
        }
        // 1.6.0, the scheduler's null witness, belongs to no account.
        for (_, w) in self.witnesses.iter().filter(|(i, _)| *i != 0) {
            self.witness_by_account.insert(w.witness_account, w.id);
        }
        for (_, c) in self.committee_members.iter() {
            self.committee_by_account
                .insert(c.committee_member_account, c.id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PrivateKey;
    use crate::test_utils::DevChain;

    #[test]
    fn image_round_trip_keeps_state_and_indexes() {
        let mut t = DevChain::new();
        let alice_key: PrivateKey = t.create_funded_account("alice", 50_000_000);
        t.create_funded_account("bob", 0);
        let op = t.transfer_op("alice", "bob", 1234, 20 * crate::protocol::fees::P as i64);
        t.push_ops(vec![op], &[&alice_key]).unwrap();
        t.produce_block();
        let bob = t.id("bob");
        let copy = t.chain.store.clone_committed();
        let chain = &t.chain;
        let mut body = Vec::new();
        chain.store.encode_image(&mut body).unwrap();
        let mut body2 = Vec::new();
        copy.encode_image(&mut body2).unwrap();
        assert_eq!(body, body2, "the committed copy encodes the same");
        assert_eq!(copy.state_digest(), chain.state_digest());

        let loaded = Store::decode_image(&mut body.as_slice()).unwrap();
        assert_eq!(loaded.state_digest(), chain.state_digest());
        assert_eq!(loaded.session_depth(), 0);
        for name in ["alice", "bob", "dev"] {
            let id = chain.account_id_by_name(name).unwrap();
            assert_eq!(loaded.account_by_name.get(&name.to_string()), Some(&id));
            assert_eq!(
                loaded.balance_index.get(id.0),
                chain.store.balance_index.get(id.0)
            );
        }
        assert_eq!(
            loaded.balance(bob, AssetId(0)),
            chain.balance(bob, AssetId(0))
        );
        assert_eq!(loaded.key_index.len(), chain.store.key_index.len());
        assert_eq!(
            loaded.asset_by_symbol.len(),
            chain.store.asset_by_symbol.len()
        );
        assert_eq!(
            loaded.witness_by_account.len(),
            chain.store.witness_by_account.len()
        );
        for (account, id) in chain.store.witness_by_account.iter() {
            assert_eq!(loaded.witness_by_account.get(account), Some(id));
        }
        for (account, id) in chain.store.committee_by_account.iter() {
            assert_eq!(loaded.committee_by_account.get(account), Some(id));
        }
        assert_eq!(loaded.dedup.len(), chain.store.dedup.len());
        assert!(!loaded.dedup.is_empty());
    }

    #[test]
    fn damaged_images_are_refused() {
        let t = DevChain::new();
        let mut body = Vec::new();
        t.chain.store.encode_image(&mut body).unwrap();
        let mut longer = body.clone();
        longer.push(0);
        assert!(Store::decode_image(&mut longer.as_slice()).is_err());
        assert!(Store::decode_image(&mut &body[..body.len() - 3]).is_err());
        assert!(Store::decode_image(&mut &body[..10]).is_err());
    }
}
