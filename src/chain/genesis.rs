//! Genesis: the BitShares-shaped genesis JSON and the state it creates.
//!
//! The chain id is SHA-256 of the genesis state's canonical (borsh) encoding; the caller
//! computes it (`GenesisState::chain_id`) so that this state machine never hashes.

use super::evaluators::account::AccountDraft;
use super::objects::*;
use super::store::{Store, BLOCK_SUMMARY_RING};
use super::Chain;
use crate::protocol::asset::{add_amounts, Price, MAX_SHARE_SUPPLY};
use crate::protocol::authority::Authority;
use crate::protocol::chain_params::ChainParameters;
use crate::protocol::codec::{encode, sha256};
use crate::protocol::extensions::Extensions;
use crate::protocol::ids::*;
use crate::protocol::json;
use crate::protocol::operations::{
    is_valid_name, is_valid_symbol, AccountOptions, AssetOptions, VoteId,
};
use crate::protocol::{Asset, ChainId, PrivateKey, PublicKey, TimePointSec};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const CORE_SYMBOL: &str = "CORE";
pub const CORE_PRECISION: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub name: String,
    pub owner_key: PublicKey,
    pub active_key: PublicKey,
    #[serde(default)]
    pub is_lifetime_member: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAsset {
    pub symbol: String,
    pub issuer_name: String,
    #[serde(default)]
    pub description: String,
    pub precision: u8,
    #[serde(with = "json::int64")]
    pub max_supply: i64,
}

/// An initial balance. Carbyne credits a named account directly (BitShares names an
/// address and creates a claimable balance object; `balance_claim` is not built yet).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBalance {
    pub owner: String,
    pub asset_symbol: String,
    #[serde(with = "json::int64")]
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisWitness {
    pub owner_name: String,
    pub block_signing_key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisCommitteeMember {
    pub owner_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    pub initial_timestamp: TimePointSec,
    #[serde(with = "json::int64")]
    pub max_core_supply: i64,
    pub initial_parameters: ChainParameters,
    pub initial_accounts: Vec<GenesisAccount>,
    #[serde(default)]
    pub initial_assets: Vec<GenesisAsset>,
    #[serde(default)]
    pub initial_balances: Vec<GenesisBalance>,
    pub initial_active_witnesses: u16,
    pub initial_witness_candidates: Vec<GenesisWitness>,
    #[serde(default)]
    pub initial_committee_candidates: Vec<GenesisCommitteeMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid genesis: {0}")]
pub struct GenesisError(pub String);

/// The dev chain's witnesses, `init0`..`init10`.
pub const DEV_WITNESS_COUNT: usize = 11;
/// Dev maintenance interval: short, so tests cross maintenance quickly.
pub const DEV_MAINTENANCE_INTERVAL_SECS: u32 = 60;
/// The dev account's balance: one billion CORE.
pub const DEV_BALANCE: i64 = 1_000_000_000 * 100_000;

/// The deterministic dev key of `dev` (printed at start-up).
pub fn dev_key() -> PrivateKey {
    PrivateKey::from_brain_key("CARBYNE DEV ACCOUNT KEY", 0)
}
/// The deterministic key of dev witness `init{i}` (account and block signing).
pub fn dev_witness_key(i: usize) -> PrivateKey {
    PrivateKey::from_brain_key(&format!("CARBYNE DEV WITNESS KEY {i}"), 0)
}

impl GenesisState {
    /// The embedded dev genesis, starting at `initial_timestamp`.
    pub fn dev(initial_timestamp: TimePointSec) -> GenesisState {
        let params = ChainParameters {
            maintenance_interval: DEV_MAINTENANCE_INTERVAL_SECS,
            ..Default::default()
        };
        let mut accounts: Vec<GenesisAccount> = (0..DEV_WITNESS_COUNT)
            .map(|i| {
                let key = dev_witness_key(i).public_key();
                GenesisAccount {
                    name: format!("init{i}"),
                    owner_key: key,
                    active_key: key,
                    is_lifetime_member: true,
                }
            })
            .collect();
        let dev = dev_key().public_key();
        accounts.push(GenesisAccount {
            name: "dev".into(),
            owner_key: dev,
            active_key: dev,
            is_lifetime_member: true,
        });
        GenesisState {
            initial_timestamp,
            max_core_supply: MAX_SHARE_SUPPLY,
            initial_parameters: params,
            initial_accounts: accounts,
            initial_assets: vec![],
            initial_balances: vec![GenesisBalance {
                owner: "dev".into(),
                asset_symbol: CORE_SYMBOL.into(),
                amount: DEV_BALANCE,
            }],
            initial_active_witnesses: DEV_WITNESS_COUNT as u16,
            initial_witness_candidates: (0..DEV_WITNESS_COUNT)
                .map(|i| GenesisWitness {
                    owner_name: format!("init{i}"),
                    block_signing_key: dev_witness_key(i).public_key(),
                })
                .collect(),
            initial_committee_candidates: (0..DEV_WITNESS_COUNT)
                .map(|i| GenesisCommitteeMember {
                    owner_name: format!("init{i}"),
                })
                .collect(),
        }
    }

    /// SHA-256 of the canonical encoding.
    pub fn chain_id(&self) -> ChainId {
        ChainId(sha256(&[&encode(self)]))
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        let e = |m: String| Err(GenesisError(m));
        self.initial_parameters.validate().map_err(GenesisError)?;
        if self.max_core_supply <= 0 || self.max_core_supply > MAX_SHARE_SUPPLY {
            return e(format!(
                "max_core_supply {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.max_core_supply
            ));
        }
        let mut names = BTreeSet::new();
        for a in &self.initial_accounts {
            if !is_valid_name(&a.name) {
                return e(format!("{:?} is not a valid account name", a.name));
            }
            if !names.insert(a.name.as_str()) {
                return e(format!("account {:?} appears twice", a.name));
            }
        }
        let mut symbols = BTreeSet::from([CORE_SYMBOL]);
        for s in &self.initial_assets {
            if !is_valid_symbol(&s.symbol) || !symbols.insert(s.symbol.as_str()) {
                return e(format!(
                    "asset symbol {:?} is invalid or repeated",
                    s.symbol
                ));
            }
            if !names.contains(s.issuer_name.as_str()) {
                return e(format!(
                    "asset {} names unknown issuer {:?}",
                    s.symbol, s.issuer_name
                ));
            }
            if s.precision > 12 || s.max_supply <= 0 || s.max_supply > MAX_SHARE_SUPPLY {
                return e(format!(
                    "asset {} has an invalid precision or max_supply",
                    s.symbol
                ));
            }
        }
        for b in &self.initial_balances {
            if !names.contains(b.owner.as_str()) {
                return e(format!(
                    "initial balance names unknown account {:?}",
                    b.owner
                ));
            }
            if !symbols.contains(b.asset_symbol.as_str()) || b.amount <= 0 {
                return e(format!(
                    "initial balance of {} has an unknown asset or a non-positive amount",
                    b.owner
                ));
            }
        }
        let min = crate::protocol::chain_params::MIN_WITNESS_COUNT as usize;
        let active = self.initial_active_witnesses as usize;
        if active < min || active > self.initial_witness_candidates.len() {
            return e(format!(
                "initial_active_witnesses {active} must be at least {min} and at most the {} candidates",
                self.initial_witness_candidates.len()
            ));
        }
        for w in &self.initial_witness_candidates {
            if !names.contains(w.owner_name.as_str()) {
                return e(format!(
                    "witness candidate names unknown account {:?}",
                    w.owner_name
                ));
            }
        }
        for c in &self.initial_committee_candidates {
            if !names.contains(c.owner_name.as_str()) {
                return e(format!(
                    "committee candidate names unknown account {:?}",
                    c.owner_name
                ));
            }
        }
        Ok(())
    }
}

fn reserved_draft(name: &str, id: AccountId, owner: Authority, active: Authority) -> AccountDraft {
    let params = ChainParameters::default();
    AccountDraft {
        name: name.into(),
        registrar: id,
        referrer: id,
        lifetime_referrer: id,
        membership_expiration_date: TimePointSec::MAX,
        network_fee_percentage: params.network_percent_of_fee,
        lifetime_referrer_fee_percentage: crate::protocol::asset::PERCENT_100
            - params.network_percent_of_fee,
        referrer_rewards_percentage: 0,
        owner,
        active,
        options: AccountOptions::with_memo_key(PublicKey::NULL),
    }
}

fn impossible() -> Authority {
    Authority {
        weight_threshold: 1,
        ..Default::default()
    }
}

impl Chain {
    /// Builds the state at block 0.
    pub fn from_genesis(genesis: &GenesisState, chain_id: ChainId) -> Result<Chain, GenesisError> {
        genesis.validate()?;
        let mut chain = Chain {
            store: Store::default(),
            reversible_blocks: 0,
            pending_open: false,
            pending_count: 0,
            pending_bytes: 0,
        };
        let params = genesis.initial_parameters.clone();
        chain.store.global.create(GlobalPropertyObject {
            parameters: params.clone(),
            pending_parameters: None,
            next_available_vote_id: 0,
            active_committee_members: vec![],
            active_witnesses: vec![],
        });
        chain.store.dynamic.create(DynamicGlobalPropertyObject {
            time: genesis.initial_timestamp,
            last_budget_time: genesis.initial_timestamp,
            recent_slots_filled: u128::MAX,
            ..Default::default()
        });
        chain.store.chain_property = Some(ChainPropertyObject {
            chain_id,
            immutable_parameters: ImmutableChainParameters {
                min_committee_member_count:
                    crate::protocol::chain_params::MIN_COMMITTEE_MEMBER_COUNT,
                min_witness_count: crate::protocol::chain_params::MIN_WITNESS_COUNT,
            },
        });
        chain.store.block_summaries.reserve(BLOCK_SUMMARY_RING);
        for _ in 0..BLOCK_SUMMARY_RING {
            chain
                .store
                .block_summaries
                .create(BlockSummaryObject::default());
        }
        chain.create_reserved_accounts();
        chain.create_core_asset(genesis.max_core_supply);
        chain.create_initial_accounts(genesis);
        chain.create_initial_assets(genesis)?;
        chain.credit_initial_balances(genesis)?;
        chain.create_initial_witnesses(genesis);
        chain.create_initial_committee(genesis);
        chain.store.schedule.create(WitnessScheduleObject {
            current_shuffled_witnesses: chain.store.global().active_witnesses.clone(),
        });
        chain.store.commit_all();
        Ok(chain)
    }

    fn create_reserved_accounts(&mut self) {
        let temp = Authority {
            weight_threshold: 0,
            ..Default::default()
        };
        let drafts = [
            reserved_draft(
                "committee-account",
                AccountId::COMMITTEE,
                impossible(),
                impossible(),
            ),
            reserved_draft(
                "witness-account",
                AccountId::WITNESS,
                impossible(),
                impossible(),
            ),
            reserved_draft(
                "relaxed-committee-account",
                AccountId::RELAXED_COMMITTEE,
                impossible(),
                impossible(),
            ),
            reserved_draft("null-account", AccountId::NULL, impossible(), impossible()),
            reserved_draft("temp-account", AccountId::TEMP, temp.clone(), temp),
            reserved_draft(
                "proxy-to-self",
                AccountId::PROXY_TO_SELF,
                impossible(),
                impossible(),
            ),
        ];
        for d in drafts {
            self.create_account(d);
        }
        assert_eq!(
            self.store.accounts.next_instance(),
            AccountId::RESERVED_COUNT
        );
    }

    fn create_core_asset(&mut self, max_supply: i64) {
        let dyn_id = AssetDynamicDataId(
            self.store
                .asset_dynamic
                .create(AssetDynamicDataObject::default()),
        );
        let id = AssetId(self.store.assets.create(AssetObject {
            id: AssetId::CORE,
            symbol: CORE_SYMBOL.into(),
            precision: CORE_PRECISION,
            issuer: AccountId::COMMITTEE,
            options: AssetOptions {
                max_supply,
                market_fee_percent: 0,
                max_market_fee: 0,
                issuer_permissions: 0,
                flags: 0,
                core_exchange_rate: Price::new(Asset::core(1), Asset::core(1)),
                whitelist_authorities: BTreeSet::new(),
                blacklist_authorities: BTreeSet::new(),
                whitelist_markets: BTreeSet::new(),
                blacklist_markets: BTreeSet::new(),
                description: "The core asset".into(),
                extensions: Extensions,
            },
            dynamic_asset_data_id: dyn_id,
            bitasset_data_id: None,
        }));
        assert_eq!(id, AssetId::CORE);
        self.store.asset_by_symbol.insert(CORE_SYMBOL.into(), id);
    }

    fn create_initial_accounts(&mut self, genesis: &GenesisState) {
        let params = &genesis.initial_parameters;
        for a in &genesis.initial_accounts {
            let id = AccountId(self.store.accounts.next_instance());
            let lifetime = a.is_lifetime_member;
            let sponsor = if lifetime { id } else { AccountId::TEMP };
            self.create_account(AccountDraft {
                name: a.name.clone(),
                registrar: sponsor,
                referrer: sponsor,
                lifetime_referrer: sponsor,
                membership_expiration_date: if lifetime {
                    TimePointSec::MAX
                } else {
                    TimePointSec(0)
                },
                network_fee_percentage: params.network_percent_of_fee,
                lifetime_referrer_fee_percentage: if lifetime {
                    crate::protocol::asset::PERCENT_100 - params.network_percent_of_fee
                } else {
                    params.lifetime_referrer_percent_of_fee
                },
                referrer_rewards_percentage: 0,
                owner: Authority::single_key(a.owner_key),
                active: Authority::single_key(a.active_key),
                options: AccountOptions::with_memo_key(a.active_key),
            });
        }
    }

    fn create_initial_assets(&mut self, genesis: &GenesisState) -> Result<(), GenesisError> {
        for g in &genesis.initial_assets {
            let issuer = self
                .account_id_by_name(&g.issuer_name)
                .expect("validated issuer");
            let id = AssetId(self.store.assets.next_instance());
            let dyn_id = AssetDynamicDataId(
                self.store
                    .asset_dynamic
                    .create(AssetDynamicDataObject::default()),
            );
            self.store.assets.create(AssetObject {
                id,
                symbol: g.symbol.clone(),
                precision: g.precision,
                issuer,
                options: AssetOptions {
                    max_supply: g.max_supply,
                    market_fee_percent: 0,
                    max_market_fee: 0,
                    issuer_permissions: crate::protocol::operations::flags::UIA_MASK,
                    flags: 0,
                    core_exchange_rate: Price::new(Asset::core(1), Asset::new(1, id)),
                    whitelist_authorities: BTreeSet::new(),
                    blacklist_authorities: BTreeSet::new(),
                    whitelist_markets: BTreeSet::new(),
                    blacklist_markets: BTreeSet::new(),
                    description: g.description.clone(),
                    extensions: Extensions,
                },
                dynamic_asset_data_id: dyn_id,
                bitasset_data_id: None,
            });
            self.store.asset_by_symbol.insert(g.symbol.clone(), id);
        }
        Ok(())
    }

    fn credit_initial_balances(&mut self, genesis: &GenesisState) -> Result<(), GenesisError> {
        let mut supply: BTreeMap<AssetId, i64> = BTreeMap::new();
        for b in &genesis.initial_balances {
            let owner = self.account_id_by_name(&b.owner).expect("validated owner");
            let asset = self
                .asset_id_by_symbol(&b.asset_symbol)
                .expect("validated asset");
            let total = supply.entry(asset).or_insert(0);
            *total = add_amounts(*total, b.amount).map_err(|e| GenesisError(e.to_string()))?;
            self.adjust_balance(owner, Asset::new(b.amount, asset))
                .map_err(|e| GenesisError(e.to_string()))?;
        }
        for (asset, total) in supply {
            let obj = self.store.asset(asset).expect("exists");
            if total > obj.options.max_supply {
                return Err(GenesisError(format!(
                    "initial balances of {} exceed its max supply",
                    obj.symbol
                )));
            }
            let dyn_id = obj.dynamic_asset_data_id;
            self.store
                .asset_dynamic
                .modify(dyn_id.0, |d| d.current_supply = total);
        }
        Ok(())
    }

    fn next_vote_id(&mut self, vote_type: u8) -> VoteId {
        self.store.modify_global(|g| {
            let v = VoteId::new(vote_type, g.next_available_vote_id);
            g.next_available_vote_id += 1;
            v
        })
    }

    fn create_initial_witnesses(&mut self, genesis: &GenesisState) {
        // 1.6.0 is the scheduler's null witness.
        self.store.witnesses.create(WitnessObject {
            id: WitnessId(0),
            witness_account: AccountId::NULL,
            signing_key: PublicKey::NULL,
            last_aslot: 0,
            last_confirmed_block_num: 0,
            total_missed: 0,
            total_votes: 0,
            url: String::new(),
        });
        let mut active = Vec::new();
        for (i, w) in genesis.initial_witness_candidates.iter().enumerate() {
            let account = self
                .account_id_by_name(&w.owner_name)
                .expect("validated witness");
            let _vote = self.next_vote_id(VoteId::WITNESS);
            let id = WitnessId(self.store.witnesses.next_instance());
            self.store.witnesses.create(WitnessObject {
                id,
                witness_account: account,
                signing_key: w.block_signing_key,
                last_aslot: 0,
                last_confirmed_block_num: 0,
                total_missed: 0,
                total_votes: 0,
                url: String::new(),
            });
            self.store.witness_by_account.insert(account, id);
            if i < genesis.initial_active_witnesses as usize {
                active.push(id);
            }
        }
        let witness_auth = voting_authority(
            active
                .iter()
                .map(|w| self.store.witnesses.get(w.0).unwrap().witness_account),
        );
        let compiled = self.compile_authority(&witness_auth);
        self.store.accounts.modify(AccountId::WITNESS.0, |a| {
            a.active = witness_auth;
            a.active_compiled = compiled;
        });
        self.store.modify_global(|g| g.active_witnesses = active);
    }

    fn create_initial_committee(&mut self, genesis: &GenesisState) {
        let mut members = Vec::new();
        for c in &genesis.initial_committee_candidates {
            let account = self
                .account_id_by_name(&c.owner_name)
                .expect("validated member");
            let _vote = self.next_vote_id(VoteId::COMMITTEE);
            let id = CommitteeMemberId(self.store.committee_members.next_instance());
            self.store.committee_members.create(CommitteeMemberObject {
                id,
                committee_member_account: account,
                total_votes: 0,
                url: String::new(),
            });
            self.store.committee_by_account.insert(account, id);
            members.push((id, account));
        }
        if !members.is_empty() {
            let auth = voting_authority(members.iter().map(|(_, a)| *a));
            let compiled = self.compile_authority(&auth);
            self.store.accounts.modify(AccountId::COMMITTEE.0, |a| {
                a.active = auth.clone();
                a.active_compiled = compiled.clone();
            });
            self.store
                .accounts
                .modify(AccountId::RELAXED_COMMITTEE.0, |a| {
                    a.active = auth;
                    a.active_compiled = compiled;
                });
        }
        self.store.modify_global(|g| {
            g.active_committee_members = members.iter().map(|(id, _)| *id).collect()
        });
    }
}

/// Equal weights, threshold a strict majority.
fn voting_authority(accounts: impl Iterator<Item = AccountId>) -> Authority {
    let account_auths: BTreeMap<AccountId, u16> = accounts.map(|a| (a, 1)).collect();
    let total = account_auths.len() as u32;
    Authority {
        weight_threshold: total / 2 + 1,
        account_auths,
        key_auths: BTreeMap::new(),
    }
}
