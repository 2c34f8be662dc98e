//! The wallet's commands, named and ordered as in the BitShares cli_wallet. Every
//! command that changes the chain ends with `broadcast`: `true` sends the signed
//! transaction and waits for its block, `false` prints it unsent.

use super::amount::parse_amount;
use super::client::NodeClient;
use super::file::WalletFile;
use crate::protocol::asset::format_amount;
use crate::protocol::memo::Memo;
use crate::protocol::operations::{
    AccountCreateOperation, AccountOptions, AccountUpdateOperation, AccountUpgradeOperation,
    AccountWhitelistOperation, AssetClaimFeesOperation, AssetClaimPoolOperation,
    AssetCreateOperation, AssetFundFeePoolOperation, AssetIssueOperation, AssetOptions,
    AssetReserveOperation, AssetUpdateIssuerOperation, AssetUpdateOperation, BitassetOptions,
    TransferOperation,
};
use crate::protocol::{
    AccountId, Asset, AssetId, Authority, BlockId, ChainId, Operation, Price, PrivateKey,
    PublicKey, SignedTransaction, TimePointSec, Transaction,
};
use anyhow::{anyhow, bail, Context as _, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// Seconds from the head block's time to a new transaction's expiration.
const EXPIRATION_SECS: u32 = 120;
/// Words in a suggested brain key: 16 of the 2048 BIP-39 words, 176 bits.
const BRAIN_KEY_WORDS: usize = 16;

/// A command's result: JSON for `--json` and scripts, and text for people.
pub struct Output {
    pub value: Value,
    pub text: Option<String>,
}

impl Output {
    fn json(value: Value) -> Output {
        Output { value, text: None }
    }
    fn with_text(value: Value, text: String) -> Output {
        Output {
            value,
            text: Some(text),
        }
    }
    /// The text shown to people: the command's own rendering, or pretty JSON.
    pub fn render(&self) -> String {
        match &self.text {
            Some(t) => t.clone(),
            None => serde_json::to_string_pretty(&self.value).unwrap_or_default(),
        }
    }
}

/// Where passwords come from when a command needs one and was not given it.
pub type PasswordSource = Box<dyn FnMut(&str) -> Result<String> + Send>;

/// `(name, arguments, what it does)`.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "[COMMAND]", "list the commands, or explain one"),
    (
        "info",
        "",
        "the node's head block, chain id and the wallet's state",
    ),
    ("about", "", "this wallet's version and node address"),
    ("is_new", "", "true if the wallet has no password yet"),
    ("is_locked", "", "true if the wallet's keys are locked"),
    (
        "set_password",
        "[PASSWORD]",
        "create the wallet, or change its password (unlocked)",
    ),
    ("unlock", "[PASSWORD]", "open the wallet's private keys"),
    ("lock", "", "forget the private keys until the next unlock"),
    (
        "suggest_brain_key",
        "",
        "a new random brain key with its first key",
    ),
    (
        "import_key",
        "ACCOUNT WIF_KEY",
        "add a private key of ACCOUNT to the wallet",
    ),
    (
        "list_my_accounts",
        "",
        "the accounts this wallet holds keys for",
    ),
    (
        "dump_private_keys",
        "",
        "every private key in the wallet (unlocked)",
    ),
    (
        "get_private_key",
        "PUBLIC_KEY",
        "the private key for PUBLIC_KEY (unlocked)",
    ),
    (
        "create_account_with_brain_key",
        "BRAIN_KEY NAME REGISTRAR REFERRER broadcast",
        "register NAME with keys from BRAIN_KEY, paid by REGISTRAR",
    ),
    (
        "register_account",
        "NAME OWNER_KEY ACTIVE_KEY REGISTRAR REFERRER REFERRER_PERCENT broadcast",
        "register NAME with the given public keys",
    ),
    (
        "upgrade_account",
        "NAME broadcast",
        "make NAME a lifetime member",
    ),
    (
        "set_voting_proxy",
        "ACCOUNT PROXY|null broadcast",
        "let PROXY vote for ACCOUNT",
    ),
    ("get_account", "NAME", "an account object"),
    ("list_account_balances", "NAME", "an account's balances"),
    (
        "get_account_history",
        "NAME LIMIT",
        "an account's recent operations",
    ),
    ("get_asset", "SYMBOL", "an asset object"),
    ("list_assets", "LOWER_BOUND LIMIT", "assets by symbol"),
    (
        "transfer",
        "FROM TO AMOUNT SYMBOL MEMO broadcast",
        "send AMOUNT; MEMO \"\" for none",
    ),
    (
        "read_memo",
        "MEMO_JSON",
        "decrypt a memo with this wallet's keys",
    ),
    (
        "create_asset",
        "ISSUER SYMBOL PRECISION OPTIONS_JSON BITASSET_OPTIONS_JSON|null broadcast",
        "create an asset; OPTIONS_JSON fields override the defaults",
    ),
    (
        "update_asset",
        "SYMBOL NEW_ISSUER|null NEW_OPTIONS_JSON broadcast",
        "change an asset's options (fields override the current ones) or issuer",
    ),
    (
        "issue_asset",
        "TO AMOUNT SYMBOL MEMO broadcast",
        "issue new supply to TO",
    ),
    (
        "reserve_asset",
        "FROM AMOUNT SYMBOL broadcast",
        "take supply out of circulation",
    ),
    (
        "fund_asset_fee_pool",
        "FROM SYMBOL AMOUNT broadcast",
        "add AMOUNT of CORE to the fee pool",
    ),
    (
        "claim_asset_fee_pool",
        "SYMBOL AMOUNT broadcast",
        "the issuer takes CORE back from the pool",
    ),
    (
        "claim_asset_fees",
        "AMOUNT SYMBOL broadcast",
        "the issuer takes accumulated fees",
    ),
    (
        "whitelist_account",
        "AUTHORIZING ACCOUNT no_listing|white_listed|black_listed|white_and_black_listed broadcast",
        "list ACCOUNT on AUTHORIZING's white or black list",
    ),
    (
        "begin_builder_transaction",
        "",
        "start a transaction by hand; gives its handle",
    ),
    (
        "add_operation_to_builder_transaction",
        "HANDLE OPERATION_JSON",
        "append [name, {fields}]",
    ),
    (
        "preview_builder_transaction",
        "HANDLE",
        "the transaction as built so far",
    ),
    (
        "sign_builder_transaction",
        "HANDLE broadcast",
        "fill fees, sign and send",
    ),
];

/// Commands of the cli_wallet whose chain features this release does not have.
const NOT_YET: &[(&str, &str)] = &[
    ("sell_asset", "the order book"),
    ("cancel_order", "the order book"),
    ("borrow_asset", "SmartCoins"),
    ("settle_asset", "SmartCoins"),
    ("publish_asset_feed", "SmartCoins"),
    ("update_asset_feed_producers", "SmartCoins"),
    ("global_settle_asset", "SmartCoins"),
    ("create_witness", "witness registration"),
    ("vote_for_witness", "witness voting"),
    ("create_committee_member", "committee registration"),
    ("vote_for_committee_member", "committee voting"),
    ("create_worker", "workers"),
    ("propose_parameter_change", "proposals"),
    ("propose_fee_change", "proposals"),
    ("approve_proposal", "proposals"),
    ("propose_builder_transaction", "proposals"),
    ("create_withdraw_permission", "withdraw permissions"),
    ("claim_withdraw_permission", "withdraw permissions"),
];

/// A command's arguments, with errors that show its usage.
struct Args<'a> {
    command: &'a str,
    values: &'a [String],
}

impl<'a> Args<'a> {
    fn usage(&self) -> String {
        let args = COMMANDS
            .iter()
            .find(|c| c.0 == self.command)
            .map_or("", |c| c.1);
        format!("usage: {} {args}", self.command)
    }
    fn count(&self, min: usize, max: usize) -> Result<()> {
        let n = self.values.len();
        if n < min || n > max {
            bail!(
                "{} takes {} argument(s), got {n}; {}",
                self.command,
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                },
                self.usage()
            );
        }
        Ok(())
    }
    fn str(&self, i: usize) -> &'a str {
        self.values.get(i).map_or("", |s| s.as_str())
    }
    fn opt(&self, i: usize) -> Option<&'a str> {
        self.values
            .get(i)
            .map(|s| s.as_str())
            .filter(|s| *s != "null" && !s.is_empty())
    }
    fn bool(&self, i: usize, what: &str) -> Result<bool> {
        match self.str(i) {
            "true" => Ok(true),
            "false" => Ok(false),
            other => bail!(
                "{what} must be true or false, not {other:?}; {}",
                self.usage()
            ),
        }
    }
    fn number<T: std::str::FromStr>(&self, i: usize, what: &str) -> Result<T> {
        self.str(i).parse().map_err(|_| {
            anyhow!(
                "{what} must be a whole number, not {:?}; {}",
                self.str(i),
                self.usage()
            )
        })
    }
    fn json(&self, i: usize, what: &str) -> Result<Value> {
        serde_json::from_str(self.str(i))
            .map_err(|e| anyhow!("{what} is not valid JSON ({e}); {}", self.usage()))
    }
    fn broadcast(&self) -> Result<bool> {
        self.bool(self.values.len().saturating_sub(1), "broadcast")
    }
}

/// An asset as the wallet needs it.
struct AssetInfo {
    id: AssetId,
    symbol: String,
    precision: u8,
    issuer: AccountId,
    object: Value,
}

/// The wallet: its file, its node and the transactions being built by hand.
pub struct Wallet {
    pub file: WalletFile,
    node: NodeClient,
    password: PasswordSource,
    builders: Vec<Option<Vec<Operation>>>,
}

fn from_json<T: DeserializeOwned>(v: &Value, what: &str) -> Result<T> {
    T::deserialize(v).map_err(|e| anyhow!("the node sent an unexpected {what}: {e}"))
}

impl Wallet {
    pub fn new(file: WalletFile, node: NodeClient, password: PasswordSource) -> Wallet {
        Wallet {
            file,
            node,
            password,
            builders: Vec::new(),
        }
    }

    /// Runs one command.
    pub fn run(&mut self, command: &str, values: &[String]) -> Result<Output> {
        let a = Args { command, values };
        if let Some((_, feature)) = NOT_YET.iter().find(|(c, _)| *c == command) {
            bail!(
                "{command} needs {feature}, which this chain does not have yet \
                 (its evaluators are not built); `help` lists what works"
            );
        }
        match command {
            "help" | "gethelp" => {
                a.count(0, 1)?;
                Ok(Output::json(Value::String(help(a.opt(0))?)))
            }
            "about" => {
                a.count(0, 0)?;
                Ok(Output::json(json!({
                    "client_version": env!("CARGO_PKG_VERSION"),
                    "server": self.node.url(),
                    "wallet_file": self.file.path().display().to_string(),
                })))
            }
            "info" => {
                a.count(0, 0)?;
                self.info()
            }
            "is_new" => {
                a.count(0, 0)?;
                Ok(Output::json(Value::Bool(self.file.is_new())))
            }
            "is_locked" => {
                a.count(0, 0)?;
                Ok(Output::json(Value::Bool(self.file.is_locked())))
            }
            "set_password" => {
                a.count(0, 1)?;
                let password = match a.opt(0) {
                    Some(p) => p.to_string(),
                    None => (self.password)("new wallet password")?,
                };
                if !self.file.is_new() && self.file.is_locked() {
                    self.unlock_with_prompt()?;
                }
                self.file.set_password(&password)?;
                Ok(Output::json(Value::Null))
            }
            "unlock" => {
                a.count(0, 1)?;
                match a.opt(0) {
                    Some(p) => self.file.unlock(p)?,
                    None => self.unlock_with_prompt()?,
                }
                Ok(Output::json(Value::Null))
            }
            "lock" => {
                a.count(0, 0)?;
                self.file.lock();
                Ok(Output::json(Value::Null))
            }
            "suggest_brain_key" => {
                a.count(0, 0)?;
                let brain = suggest_brain_key();
                let key = PrivateKey::from_brain_key(&brain, 0);
                Ok(Output::json(json!({
                    "brain_priv_key": brain,
                    "wif_priv_key": key.to_wif(),
                    "pub_key": key.public_key().to_string(),
                })))
            }
            "import_key" => {
                a.count(2, 2)?;
                self.import_key(a.str(0), a.str(1))
            }
            "list_my_accounts" => {
                a.count(0, 0)?;
                let names = self.file.public.accounts.clone();
                let found = self.node.db("lookup_account_names", json!([names]))?;
                Ok(Output::json(found))
            }
            "dump_private_keys" => {
                a.count(0, 0)?;
                self.need_keys()?;
                let keys: Vec<Value> = self
                    .file
                    .keys()?
                    .iter()
                    .map(|k| json!([k.public_key().to_string(), k.to_wif()]))
                    .collect();
                Ok(Output::json(Value::Array(keys)))
            }
            "get_private_key" => {
                a.count(1, 1)?;
                self.need_keys()?;
                let public: PublicKey = a
                    .str(0)
                    .parse()
                    .map_err(|e| anyhow!("{e}; {}", a.usage()))?;
                let key = self
                    .file
                    .private_key(&public)?
                    .ok_or_else(|| anyhow!("the wallet has no private key for {public}"))?;
                Ok(Output::json(Value::String(key.to_wif())))
            }
            "create_account_with_brain_key" => {
                a.count(5, 5)?;
                let brain = a.str(0);
                if brain.split_whitespace().count() < 8 {
                    bail!("the brain key has too few words to be safe (use suggest_brain_key)");
                }
                let owner = PrivateKey::from_brain_key(brain, 0);
                let active = PrivateKey::from_brain_key(brain, 1);
                let (name, registrar, referrer) = (a.str(1), a.str(2), a.str(3));
                self.need_keys()?;
                // Keep the keys before anything is sent, so that none can be lost;
                // list the account once the chain has it.
                self.file.add_keys(None, &[owner.clone(), active.clone()])?;
                let broadcast = a.broadcast()?;
                let out = self.register(
                    name,
                    owner.public_key(),
                    active.public_key(),
                    registrar,
                    referrer,
                    None,
                    broadcast,
                )?;
                if broadcast {
                    self.file.add_keys(Some(name), &[])?;
                }
                Ok(out)
            }
            "register_account" => {
                a.count(7, 7)?;
                let key = |i: usize, what: &str| -> Result<PublicKey> {
                    a.str(i).parse().map_err(|e| anyhow!("{what}: {e}"))
                };
                let percent: u16 = a.number(5, "REFERRER_PERCENT")?;
                if percent > 100 {
                    bail!("REFERRER_PERCENT {percent} is more than 100");
                }
                self.register(
                    a.str(0),
                    key(1, "OWNER_KEY")?,
                    key(2, "ACTIVE_KEY")?,
                    a.str(3),
                    a.str(4),
                    Some(percent * 100),
                    a.broadcast()?,
                )
            }
            "upgrade_account" => {
                a.count(2, 2)?;
                let account = self.account_id(a.str(0))?;
                self.finish(
                    vec![Operation::AccountUpgrade(AccountUpgradeOperation {
                        fee: Asset::core(0),
                        account_to_upgrade: account,
                        upgrade_to_lifetime_member: true,
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "set_voting_proxy" => {
                a.count(3, 3)?;
                let account = self.account(a.str(0))?;
                let proxy = match a.opt(1) {
                    Some(p) => self.account_id(p)?,
                    None => AccountId::PROXY_TO_SELF,
                };
                let mut options: AccountOptions = from_json(&account["options"], "account")?;
                options.voting_account = proxy;
                self.finish(
                    vec![Operation::AccountUpdate(AccountUpdateOperation {
                        fee: Asset::core(0),
                        account: from_json(&account["id"], "account id")?,
                        owner: None,
                        active: None,
                        new_options: Some(options),
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "get_account" => {
                a.count(1, 1)?;
                Ok(Output::json(self.account(a.str(0))?))
            }
            "list_account_balances" => {
                a.count(1, 1)?;
                self.balances(a.str(0))
            }
            "get_account_history" => {
                a.count(2, 2)?;
                let limit: u32 = a.number(1, "LIMIT")?;
                let id = self.account_id(a.str(0))?;
                let history = self.node.call(
                    "history",
                    "get_account_history",
                    json!([id.to_string(), "1.11.0", limit, "1.11.0"]),
                )?;
                Ok(Output::json(self.with_memo_texts(history)?))
            }
            "get_asset" => {
                a.count(1, 1)?;
                Ok(Output::json(self.asset(a.str(0))?.object))
            }
            "list_assets" => {
                a.count(2, 2)?;
                let limit: u32 = a.number(1, "LIMIT")?;
                Ok(Output::json(
                    self.node.db("list_assets", json!([a.str(0), limit]))?,
                ))
            }
            "transfer" => {
                a.count(6, 6)?;
                let from = self.account(a.str(0))?;
                let to = self.account(a.str(1))?;
                let asset = self.asset(a.str(3))?;
                let amount = parse_amount(a.str(2), asset.precision, &asset.symbol)?;
                let memo = self.memo(&from, &to, a.str(4))?;
                self.finish(
                    vec![Operation::Transfer(TransferOperation {
                        fee: Asset::core(0),
                        from: from_json(&from["id"], "account id")?,
                        to: from_json(&to["id"], "account id")?,
                        amount: Asset {
                            amount,
                            asset_id: asset.id,
                        },
                        memo,
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "read_memo" => {
                a.count(1, 1)?;
                let memo: Memo = serde_json::from_value(a.json(0, "MEMO_JSON")?).map_err(|e| {
                    anyhow!("MEMO_JSON is not a memo ({e}): give the memo object of an operation")
                })?;
                if !(memo.from == PublicKey::NULL && memo.to == PublicKey::NULL) {
                    self.need_keys()?;
                }
                let keys = if self.file.is_locked() {
                    vec![]
                } else {
                    self.file.keys()?
                };
                let text = memo.open(&keys)?;
                Ok(Output::with_text(Value::String(text.clone()), text))
            }
            "create_asset" => {
                a.count(6, 6)?;
                self.create_asset(&a)
            }
            "update_asset" => {
                a.count(4, 4)?;
                self.update_asset(&a)
            }
            "issue_asset" => {
                a.count(5, 5)?;
                let asset = self.asset(a.str(2))?;
                let amount = parse_amount(a.str(1), asset.precision, &asset.symbol)?;
                let issuer = self.account(&asset.issuer.to_string())?;
                let to = self.account(a.str(0))?;
                let memo = self.memo(&issuer, &to, a.str(3))?;
                self.finish(
                    vec![Operation::AssetIssue(AssetIssueOperation {
                        fee: Asset::core(0),
                        issuer: asset.issuer,
                        asset_to_issue: Asset {
                            amount,
                            asset_id: asset.id,
                        },
                        issue_to_account: from_json(&to["id"], "account id")?,
                        memo,
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "reserve_asset" => {
                a.count(4, 4)?;
                let payer = self.account_id(a.str(0))?;
                let asset = self.asset(a.str(2))?;
                let amount = parse_amount(a.str(1), asset.precision, &asset.symbol)?;
                self.finish(
                    vec![Operation::AssetReserve(AssetReserveOperation {
                        fee: Asset::core(0),
                        payer,
                        amount_to_reserve: Asset {
                            amount,
                            asset_id: asset.id,
                        },
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "fund_asset_fee_pool" => {
                a.count(4, 4)?;
                let from = self.account_id(a.str(0))?;
                let asset = self.asset(a.str(1))?;
                let core = self.asset("1.3.0")?;
                let amount = parse_amount(a.str(2), core.precision, &core.symbol)?;
                self.finish(
                    vec![Operation::AssetFundFeePool(AssetFundFeePoolOperation {
                        fee: Asset::core(0),
                        from_account: from,
                        asset_id: asset.id,
                        amount,
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "claim_asset_fee_pool" => {
                a.count(3, 3)?;
                let asset = self.asset(a.str(0))?;
                let core = self.asset("1.3.0")?;
                let amount = parse_amount(a.str(1), core.precision, &core.symbol)?;
                self.finish(
                    vec![Operation::AssetClaimPool(AssetClaimPoolOperation {
                        fee: Asset::core(0),
                        issuer: asset.issuer,
                        asset_id: asset.id,
                        amount_to_claim: Asset::core(amount),
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "claim_asset_fees" => {
                a.count(3, 3)?;
                let asset = self.asset(a.str(1))?;
                let amount = parse_amount(a.str(0), asset.precision, &asset.symbol)?;
                self.finish(
                    vec![Operation::AssetClaimFees(AssetClaimFeesOperation {
                        fee: Asset::core(0),
                        issuer: asset.issuer,
                        amount_to_claim: Asset {
                            amount,
                            asset_id: asset.id,
                        },
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "whitelist_account" => {
                a.count(4, 4)?;
                let listing = match a.str(2) {
                    "no_listing" => 0,
                    "white_listed" => 1,
                    "black_listed" => 2,
                    "white_and_black_listed" => 3,
                    other => bail!(
                        "unknown listing {other:?}: no_listing, white_listed, black_listed \
                         or white_and_black_listed"
                    ),
                };
                let authorizing = self.account_id(a.str(0))?;
                let listed = self.account_id(a.str(1))?;
                self.finish(
                    vec![Operation::AccountWhitelist(AccountWhitelistOperation {
                        fee: Asset::core(0),
                        authorizing_account: authorizing,
                        account_to_list: listed,
                        new_listing: listing,
                        extensions: Default::default(),
                    })],
                    a.broadcast()?,
                )
            }
            "begin_builder_transaction" => {
                a.count(0, 0)?;
                self.builders.push(Some(Vec::new()));
                Ok(Output::json(json!(self.builders.len() - 1)))
            }
            "add_operation_to_builder_transaction" => {
                a.count(2, 2)?;
                let handle = self.builder(&a)?;
                let op: Operation = serde_json::from_value(a.json(1, "OPERATION_JSON")?)
                    .map_err(|e| anyhow!("OPERATION_JSON is not an operation: {e}"))?;
                self.builders[handle].as_mut().expect("checked").push(op);
                Ok(Output::json(Value::Null))
            }
            "preview_builder_transaction" => {
                a.count(1, 1)?;
                let handle = self.builder(&a)?;
                Ok(Output::json(json!(self.builders[handle])))
            }
            "sign_builder_transaction" => {
                a.count(2, 2)?;
                let handle = self.builder(&a)?;
                let broadcast = a.broadcast()?;
                let ops = self.builders[handle].clone().expect("checked");
                let out = self.finish(ops, broadcast)?;
                if broadcast {
                    self.builders[handle] = None;
                }
                Ok(out)
            }
            other => {
                let close: Vec<&str> = COMMANDS
                    .iter()
                    .map(|c| c.0)
                    .filter(|c| c.contains(other) || other.contains(c))
                    .collect();
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", close.join(", "))
                };
                bail!("unknown command {other:?}{hint}; `help` lists the commands")
            }
        }
    }

    fn builder(&self, a: &Args) -> Result<usize> {
        let handle: usize = a.number(0, "HANDLE")?;
        match self.builders.get(handle) {
            Some(Some(_)) => Ok(handle),
            _ => bail!("no builder transaction {handle} (begin_builder_transaction makes one)"),
        }
    }

    fn unlock_with_prompt(&mut self) -> Result<()> {
        let password = (self.password)("wallet password")?;
        self.file.unlock(&password)
    }

    /// Unlocks with the password source if the keys are locked.
    fn need_keys(&mut self) -> Result<()> {
        if self.file.is_new() {
            bail!(
                "the wallet {} is new: set a password first (set_password)",
                self.file.path().display()
            );
        }
        if self.file.is_locked() {
            self.unlock_with_prompt()?;
        }
        Ok(())
    }

    fn chain_id(&mut self) -> Result<ChainId> {
        let id = self.node.db("get_chain_id", json!([]))?;
        let text = id
            .as_str()
            .ok_or_else(|| anyhow!("the node sent no chain id"))?;
        self.file.bind_chain(text)?;
        text.parse()
            .map_err(|_| anyhow!("the node sent a malformed chain id {text:?}"))
    }

    fn account(&mut self, name_or_id: &str) -> Result<Value> {
        if name_or_id.is_empty() {
            bail!("an account name or id is required");
        }
        let found = self.node.db("get_accounts", json!([[name_or_id]]))?;
        match found.get(0) {
            Some(Value::Null) | None => bail!("unknown account {name_or_id:?}"),
            Some(a) => Ok(a.clone()),
        }
    }
    fn account_id(&mut self, name_or_id: &str) -> Result<AccountId> {
        let a = self.account(name_or_id)?;
        from_json(&a["id"], "account id")
    }

    fn asset(&mut self, symbol_or_id: &str) -> Result<AssetInfo> {
        if symbol_or_id.is_empty() {
            bail!("an asset symbol or id is required");
        }
        let found = self
            .node
            .db("lookup_asset_symbols", json!([[symbol_or_id]]))?;
        let object = match found.get(0) {
            Some(Value::Null) | None => bail!("unknown asset {symbol_or_id:?}"),
            Some(a) => a.clone(),
        };
        Ok(AssetInfo {
            id: from_json(&object["id"], "asset id")?,
            symbol: from_json(&object["symbol"], "asset symbol")?,
            precision: from_json(&object["precision"], "asset precision")?,
            issuer: from_json(&object["issuer"], "asset issuer")?,
            object,
        })
    }

    fn info(&mut self) -> Result<Output> {
        let chain_id = self.node.db("get_chain_id", json!([]))?;
        let dgp = self.node.db("get_dynamic_global_properties", json!([]))?;
        Ok(Output::json(json!({
            "chain_id": chain_id,
            "head_block_num": dgp["head_block_number"],
            "head_block_id": dgp["head_block_id"],
            "head_block_time": dgp["time"],
            "last_irreversible_block_num": dgp["last_irreversible_block_num"],
            "next_maintenance_time": dgp["next_maintenance_time"],
            "current_witness": dgp["current_witness"],
            "wallet": {
                "file": self.file.path().display().to_string(),
                "new": self.file.is_new(),
                "locked": self.file.is_locked(),
                "chain_id": self.file.public.chain_id,
                "accounts": self.file.public.accounts,
            },
        })))
    }

    fn balances(&mut self, name: &str) -> Result<Output> {
        let id = self.account_id(name)?;
        let balances = self
            .node
            .db("get_account_balances", json!([id.to_string(), []]))?;
        let list: Vec<Asset> = from_json(&balances, "balance list")?;
        let mut lines = Vec::new();
        let mut rows = Vec::new();
        for b in &list {
            let asset = self.asset(&b.asset_id.to_string())?;
            let text = format!(
                "{} {}",
                format_amount(b.amount, asset.precision),
                asset.symbol
            );
            rows.push(json!({
                "amount": b.amount.to_string(),
                "asset_id": b.asset_id.to_string(),
                "symbol": asset.symbol,
                "text": text,
            }));
            lines.push(text);
        }
        Ok(Output::with_text(Value::Array(rows), lines.join("\n")))
    }

    fn import_key(&mut self, account: &str, wif: &str) -> Result<Output> {
        let key = PrivateKey::from_wif(wif).map_err(|e| anyhow!("import_key: {e}"))?;
        let object = self.account(account)?;
        let public = key.public_key().to_string();
        let holds = |auth: &Value| {
            auth["key_auths"]
                .as_array()
                .is_some_and(|keys| keys.iter().any(|k| k[0] == public.as_str()))
        };
        let name = object["name"].as_str().unwrap_or(account).to_string();
        if !holds(&object["owner"])
            && !holds(&object["active"])
            && object["options"]["memo_key"] != public.as_str()
        {
            bail!("key {public} is not among {name}'s owner, active or memo keys");
        }
        self.need_keys()?;
        self.file.add_keys(Some(&name), &[key])?;
        Ok(Output::json(Value::Bool(true)))
    }

    /// History entries with `memo_text` added where this (unlocked) wallet can read
    /// the memo.
    fn with_memo_texts(&self, mut history: Value) -> Result<Value> {
        if self.file.is_locked() {
            return Ok(history);
        }
        let keys = self.file.keys()?;
        for entry in history.as_array_mut().into_iter().flatten() {
            let memo = entry["op"][1].get("memo").cloned();
            if let Some(Ok(memo)) = memo.map(serde_json::from_value::<Memo>) {
                if let Ok(text) = memo.open(&keys) {
                    entry["memo_text"] = Value::String(text);
                }
            }
        }
        Ok(history)
    }

    /// The memo for `text` from `from` to `to` (account objects); none for "".
    fn memo(&mut self, from: &Value, to: &Value, text: &str) -> Result<Option<Memo>> {
        if text.is_empty() {
            return Ok(None);
        }
        let from_key: PublicKey = from_json(&from["options"]["memo_key"], "memo key")?;
        let to_key: PublicKey = from_json(&to["options"]["memo_key"], "memo key")?;
        self.need_keys()?;
        let name = from["name"].as_str().unwrap_or("the sender");
        let key = self.file.private_key(&from_key)?.ok_or_else(|| {
            anyhow!("the wallet has no private key for {name}'s memo key {from_key}: import it to send memos")
        })?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        Ok(Some(Memo::seal(
            &key,
            &to_key,
            u64::from_le_bytes(nonce),
            text,
        )?))
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        name: &str,
        owner: PublicKey,
        active: PublicKey,
        registrar: &str,
        referrer: &str,
        referrer_percent: Option<u16>,
        broadcast: bool,
    ) -> Result<Output> {
        let registrar = self.account_id(registrar)?;
        let referrer_object = self.account(referrer)?;
        let referrer_percent = match referrer_percent {
            Some(p) => p,
            None => from_json(&referrer_object["referrer_rewards_percentage"], "referrer")?,
        };
        let op = Operation::AccountCreate(AccountCreateOperation {
            fee: Asset::core(0),
            registrar,
            referrer: from_json(&referrer_object["id"], "account id")?,
            referrer_percent,
            name: name.to_string(),
            owner: Authority::single_key(owner),
            active: Authority::single_key(active),
            options: AccountOptions::new(active),
            extensions: Default::default(),
        });
        self.finish(vec![op], broadcast)
    }

    fn create_asset(&mut self, a: &Args) -> Result<Output> {
        let issuer = self.account_id(a.str(0))?;
        let symbol = a.str(1).to_string();
        let precision: u8 = a.number(2, "PRECISION")?;
        let defaults = AssetOptions {
            max_supply: crate::protocol::asset::MAX_SHARE_SUPPLY,
            market_fee_percent: 0,
            max_market_fee: 0,
            // Every permission of a user-issued asset, no flag set: the issuer may
            // turn on fees, white lists, overrides and transfer restrictions later.
            issuer_permissions: 0x4f,
            flags: 0,
            core_exchange_rate: Price {
                base: Asset::core(1),
                quote: Asset {
                    amount: 1,
                    asset_id: AssetId::new(1),
                },
            },
            whitelist_authorities: Default::default(),
            blacklist_authorities: Default::default(),
            whitelist_markets: Default::default(),
            blacklist_markets: Default::default(),
            description: String::new(),
            extensions: Default::default(),
        };
        let options: AssetOptions = merge(&defaults, &a.json(3, "OPTIONS_JSON")?, "OPTIONS_JSON")?;
        let bitasset_opts: Option<BitassetOptions> = match a.opt(4) {
            None => None,
            Some(_) => Some(
                serde_json::from_value(a.json(4, "BITASSET_OPTIONS_JSON")?)
                    .map_err(|e| anyhow!("BITASSET_OPTIONS_JSON: {e}"))?,
            ),
        };
        self.finish(
            vec![Operation::AssetCreate(AssetCreateOperation {
                fee: Asset::core(0),
                issuer,
                symbol,
                precision,
                common_options: options,
                bitasset_opts,
                is_prediction_market: false,
                extensions: Default::default(),
            })],
            a.broadcast()?,
        )
    }

    fn update_asset(&mut self, a: &Args) -> Result<Output> {
        let asset = self.asset(a.str(0))?;
        let current: AssetOptions = from_json(&asset.object["options"], "asset options")?;
        let changes = a.json(2, "NEW_OPTIONS_JSON")?;
        let mut ops = Vec::new();
        if changes.as_object().is_some_and(|o| !o.is_empty()) {
            ops.push(Operation::AssetUpdate(AssetUpdateOperation {
                fee: Asset::core(0),
                issuer: asset.issuer,
                asset_to_update: asset.id,
                new_issuer: None,
                new_options: merge(&current, &changes, "NEW_OPTIONS_JSON")?,
                extensions: Default::default(),
            }));
        }
        if let Some(new_issuer) = a.opt(1) {
            ops.push(Operation::AssetUpdateIssuer(AssetUpdateIssuerOperation {
                fee: Asset::core(0),
                issuer: asset.issuer,
                asset_to_update: asset.id,
                new_issuer: self.account_id(new_issuer)?,
                extensions: Default::default(),
            }));
        }
        if ops.is_empty() {
            bail!(
                "update_asset: nothing to change (give NEW_ISSUER or some NEW_OPTIONS_JSON fields)"
            );
        }
        self.finish(ops, a.broadcast()?)
    }

    /// Fills the fees, sets TaPoS and expiration, signs with the keys the chain
    /// requires, and broadcasts (waiting for the block) or returns the transaction.
    fn finish(&mut self, mut operations: Vec<Operation>, broadcast: bool) -> Result<Output> {
        let chain_id = self.chain_id()?;
        let ops_json: Vec<Value> = operations.iter().map(|o| json!(o)).collect();
        let fees = self
            .node
            .db("get_required_fees", json!([ops_json, "1.3.0"]))?;
        let fees: Vec<Asset> = from_json(&fees, "fee list")?;
        if fees.len() != operations.len() {
            bail!(
                "the node priced {} operations, not {}",
                fees.len(),
                operations.len()
            );
        }
        for (op, fee) in operations.iter_mut().zip(fees) {
            op.set_fee(fee);
        }
        let dgp = self.node.db("get_dynamic_global_properties", json!([]))?;
        let head_num: u64 = from_json(&dgp["head_block_number"], "head block number")?;
        let head_id: BlockId = from_json(&dgp["head_block_id"], "head block id")?;
        let time: TimePointSec = from_json(&dgp["time"], "head block time")?;
        let trx = Transaction {
            ref_block_num: (head_num & 0xffff) as u16,
            ref_block_prefix: head_id.tapos_prefix(),
            expiration: time.saturating_add(EXPIRATION_SECS),
            operations,
            extensions: Default::default(),
        };
        trx.validate().context("the transaction is invalid")?;
        self.need_keys()?;
        let potential: Vec<PublicKey> = from_json(
            &self.node.db("get_potential_signatures", json!([trx]))?,
            "key list",
        )?;
        let mut ours = Vec::new();
        for key in &potential {
            if self.file.private_key(key)?.is_some() {
                ours.push(*key);
            }
        }
        let required: Vec<PublicKey> = self
            .node
            .db("get_required_signatures", json!([trx, ours]))
            .map_err(|e| anyhow!("this wallet cannot sign the transaction: {e}"))
            .and_then(|v| from_json(&v, "key list"))?;
        let mut signed = SignedTransaction {
            trx,
            signatures: Default::default(),
            signer_keys: Default::default(),
        };
        for key in &required {
            let private = self
                .file
                .private_key(key)?
                .ok_or_else(|| anyhow!("the node asked for key {key}, which the wallet lacks"))?;
            signed.sign(&private, &chain_id);
        }
        let id = signed.trx.id().to_string();
        if !broadcast {
            let mut value = json!(signed);
            value["id"] = json!(id);
            return Ok(Output::json(value));
        }
        let result = self.node.call(
            "network_broadcast",
            "broadcast_transaction_synchronous",
            json!([signed]),
        )?;
        let text = format!(
            "transaction {id} is in block {} (position {})\n{}",
            result["block_num"],
            result["trx_num"],
            serde_json::to_string_pretty(&result["trx"]).unwrap_or_default()
        );
        Ok(Output::with_text(result, text))
    }
}

/// `changes` (a JSON object) over `base`, refusing fields `base` does not have.
fn merge<T: serde::Serialize + DeserializeOwned>(
    base: &T,
    changes: &Value,
    what: &str,
) -> Result<T> {
    let mut value = json!(base);
    let Some(changes) = changes.as_object() else {
        bail!("{what} must be a JSON object");
    };
    let fields = value
        .as_object_mut()
        .expect("options serialize to an object");
    for (k, v) in changes {
        if !fields.contains_key(k) {
            let known: Vec<&str> = fields.keys().map(|s| s.as_str()).collect();
            bail!(
                "{what}: unknown field {k:?}; the fields are {}",
                known.join(", ")
            );
        }
        fields.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value).map_err(|e| anyhow!("{what}: {e}"))
}

fn help(command: Option<&str>) -> Result<String> {
    match command {
        None => {
            let mut out = String::from("commands (amounts are decimals, like 12.5 CORE):\n");
            for (name, args, about) in COMMANDS {
                out.push_str(&format!("  {name} {args}\n      {about}\n"));
            }
            out.push_str("not in this chain yet: ");
            out.push_str(&NOT_YET.iter().map(|c| c.0).collect::<Vec<_>>().join(", "));
            Ok(out)
        }
        Some(name) => COMMANDS
            .iter()
            .find(|c| c.0 == name)
            .map(|(n, args, about)| format!("{n} {args}\n  {about}"))
            .ok_or_else(|| anyhow!("unknown command {name:?}")),
    }
}

/// 16 random words from the BIP-39 English list.
fn suggest_brain_key() -> String {
    let words = bip39::Language::English.word_list();
    let mut picks = Vec::with_capacity(BRAIN_KEY_WORDS);
    for _ in 0..BRAIN_KEY_WORDS {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).expect("the OS random source is available");
        // 2048 divides 65536: no modulo bias.
        picks.push(words[(u16::from_le_bytes(b) % 2048) as usize].to_uppercase());
    }
    picks.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brain_keys_are_sixteen_list_words() {
        let a = suggest_brain_key();
        let words: Vec<&str> = a.split(' ').collect();
        assert_eq!(words.len(), BRAIN_KEY_WORDS);
        let list = bip39::Language::English.word_list();
        assert!(words
            .iter()
            .all(|w| list.contains(&w.to_lowercase().as_str())));
        assert_ne!(a, suggest_brain_key());
    }

    #[test]
    fn merge_overrides_known_fields_and_refuses_unknown_ones() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct O {
            a: u32,
            b: String,
        }
        let base = O {
            a: 1,
            b: "x".into(),
        };
        assert_eq!(
            merge(&base, &json!({"a": 5}), "T").unwrap(),
            O {
                a: 5,
                b: "x".into()
            }
        );
        let e = merge(&base, &json!({"c": 5}), "T").unwrap_err().to_string();
        assert!(
            e.contains("unknown field \"c\"") && e.contains("a, b"),
            "{e}"
        );
        assert!(merge(&base, &json!({"a": "no"}), "T").is_err());
        assert!(merge(&base, &json!([1]), "T").is_err());
    }

    #[test]
    fn help_covers_every_command() {
        let all = help(None).unwrap();
        for (name, _, _) in COMMANDS {
            assert!(all.contains(name));
        }
        assert!(help(Some("transfer"))
            .unwrap()
            .contains("FROM TO AMOUNT SYMBOL MEMO broadcast"));
        assert!(help(Some("nope")).is_err());
    }
}
