//! `carbyne wallet`: a cli_wallet-style wallet. It keeps private keys in an encrypted
//! file (`file`), talks to a node over WebSocket JSON-RPC (`client`), builds, signs
//! and broadcasts transactions (`commands`), and runs one-shot, interactive or as a
//! JSON-RPC server (`cli`). Memos are sealed with the memo keys
//! (`protocol::memo`).

pub mod amount;
pub mod cli;
pub mod client;
pub mod commands;
pub mod file;
pub mod words;
