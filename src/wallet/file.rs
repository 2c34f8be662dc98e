//! The wallet file: public facts in clear, private keys sealed.
//!
//! ```json
//! { "format": "carbyne-wallet", "version": 1,
//!   "public": { "chain_id": "…", "accounts": ["dev"] },
//!   "kdf": { "algorithm": "argon2id", "memory_kib": 65536, "iterations": 3,
//!            "parallelism": 1, "salt": "hex" },
//!   "cipher": { "algorithm": "xchacha20poly1305", "nonce": "hex" },
//!   "ciphertext": "hex" }
//! ```
//!
//! The key is argon2id(password, salt); the ciphertext is XChaCha20-Poly1305 of the
//! private keys (WIF, one JSON list) with the `public` part as associated data, so
//! the clear part cannot be altered unnoticed either. Every save draws a fresh nonce
//! and writes a temporary file with mode 0600, syncs it and renames it over the old.

use crate::protocol::{PrivateKey, PublicKey};
use anyhow::{anyhow, bail, Context as _, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

const FORMAT: &str = "carbyne-wallet";
const VERSION: u32 = 1;

/// argon2id costs for new wallets: 64 MiB and 3 passes (about a quarter of a second
/// here), above the OWASP minimum of 19 MiB and 2 passes.
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
pub const KDF_ITERATIONS: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicPart {
    /// The chain this wallet signs for, set by the first command that meets a node.
    pub chain_id: Option<String>,
    /// Accounts the wallet holds keys for, by name.
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    #[serde(with = "crate::protocol::json::hex_bytes")]
    salt: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    algorithm: String,
    #[serde(with = "crate::protocol::json::hex_bytes")]
    nonce: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    version: u32,
    public: PublicPart,
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "crate::protocol::json::hex_bytes")]
    ciphertext: Vec<u8>,
}

/// What `unlock` opens: the key that seals the file, and the private keys.
struct Unlocked {
    key: Zeroizing<[u8; 32]>,
    keys: BTreeMap<PublicKey, PrivateKey>,
}

/// A wallet file, locked or unlocked.
pub struct WalletFile {
    path: PathBuf,
    pub public: PublicPart,
    /// `None` for a new wallet that has no password yet.
    sealed: Option<Envelope>,
    unlocked: Option<Unlocked>,
}

fn derive_key(password: &str, kdf: &Kdf) -> Result<Zeroizing<[u8; 32]>> {
    if kdf.algorithm != "argon2id" {
        bail!(
            "unknown key derivation {:?} in the wallet file",
            kdf.algorithm
        );
    }
    let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(|e| anyhow!("bad argon2id parameters in the wallet file: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), &kdf.salt, key.as_mut())
        .map_err(|e| anyhow!("argon2id failed: {e}"))?;
    Ok(key)
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b
}

fn aad(public: &PublicPart) -> Vec<u8> {
    serde_json::to_vec(public).expect("the public part serializes")
}

impl WalletFile {
    /// Opens `path`, or starts a new wallet there if it does not exist.
    pub fn open(path: &Path) -> Result<WalletFile> {
        if !path.exists() {
            return Ok(WalletFile {
                path: path.to_path_buf(),
                public: PublicPart::default(),
                sealed: None,
                unlocked: None,
            });
        }
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read wallet file {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: wallet file {} can be read by others (mode {:o}); run chmod 600 on it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read wallet file {}", path.display()))?;
        let envelope: Envelope = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a carbyne wallet file", path.display()))?;
        if envelope.format != FORMAT || envelope.version != VERSION {
            bail!(
                "{} is format {:?} version {}, not {FORMAT:?} version {VERSION}",
                path.display(),
                envelope.format,
                envelope.version
            );
        }
        Ok(WalletFile {
            path: path.to_path_buf(),
            public: envelope.public.clone(),
            sealed: Some(envelope),
            unlocked: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// No password set yet (the file does not exist).
    pub fn is_new(&self) -> bool {
        self.sealed.is_none() && self.unlocked.is_none()
    }
    pub fn is_locked(&self) -> bool {
        self.unlocked.is_none()
    }

    /// Sets the password: creates the file for a new wallet, or re-seals an unlocked
    /// one under the new password.
    pub fn set_password(&mut self, password: &str) -> Result<()> {
        if password.is_empty() {
            bail!("the password must not be empty");
        }
        if !self.is_new() && self.is_locked() {
            bail!("the wallet is locked: unlock it before changing its password");
        }
        let kdf = Kdf {
            algorithm: "argon2id".into(),
            memory_kib: KDF_MEMORY_KIB,
            iterations: KDF_ITERATIONS,
            parallelism: 1,
            salt: random::<16>().to_vec(),
        };
        let key = derive_key(password, &kdf)?;
        let keys = self.unlocked.take().map(|u| u.keys).unwrap_or_default();
        self.unlocked = Some(Unlocked { key, keys });
        self.sealed = Some(Envelope {
            format: FORMAT.into(),
            version: VERSION,
            public: self.public.clone(),
            kdf,
            cipher: Cipher {
                algorithm: "xchacha20poly1305".into(),
                nonce: vec![],
            },
            ciphertext: vec![],
        });
        self.save()
    }

    pub fn unlock(&mut self, password: &str) -> Result<()> {
        let envelope = self.sealed.as_ref().ok_or_else(|| {
            anyhow!(
                "the wallet {} is new: set a password first (set_password)",
                self.path.display()
            )
        })?;
        if envelope.cipher.algorithm != "xchacha20poly1305" || envelope.cipher.nonce.len() != 24 {
            bail!(
                "unknown cipher {:?} in the wallet file",
                envelope.cipher.algorithm
            );
        }
        let key = derive_key(password, &envelope.kdf)?;
        let nonce: [u8; 24] = envelope
            .cipher
            .nonce
            .as_slice()
            .try_into()
            .expect("checked");
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(&(*key).into())
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: &envelope.ciphertext,
                        aad: &aad(&envelope.public),
                    },
                )
                .map_err(|_| {
                    anyhow!(
                        "wrong password for wallet {} (or the file was altered)",
                        self.path.display()
                    )
                })?,
        );
        let mut wifs: Vec<String> = serde_json::from_slice(&plain)
            .map_err(|_| anyhow!("the wallet's sealed keys are not readable"))?;
        let mut keys = BTreeMap::new();
        for wif in &wifs {
            let k = PrivateKey::from_wif(wif)
                .map_err(|e| anyhow!("a key sealed in the wallet is invalid: {e}"))?;
            keys.insert(k.public_key(), k);
        }
        wifs.iter_mut().for_each(|w| w.zeroize());
        self.unlocked = Some(Unlocked { key, keys });
        Ok(())
    }

    /// Forgets the private keys and the sealing key until the next unlock.
    pub fn lock(&mut self) {
        self.unlocked = None;
    }

    fn unlocked(&self) -> Result<&Unlocked> {
        self.unlocked.as_ref().ok_or_else(|| {
            if self.is_new() {
                anyhow!(
                    "the wallet {} is new: set a password first (set_password)",
                    self.path.display()
                )
            } else {
                anyhow!("the wallet is locked: unlock it first")
            }
        })
    }

    /// The private key for `public`, if the wallet holds it (needs unlocked).
    pub fn private_key(&self, public: &PublicKey) -> Result<Option<PrivateKey>> {
        Ok(self.unlocked()?.keys.get(public).cloned())
    }
    /// Every key the wallet holds (needs unlocked).
    pub fn keys(&self) -> Result<Vec<PrivateKey>> {
        Ok(self.unlocked()?.keys.values().cloned().collect())
    }
    pub fn public_keys(&self) -> Result<Vec<PublicKey>> {
        Ok(self.unlocked()?.keys.keys().copied().collect())
    }

    /// Adds keys (and the account they belong to) and saves.
    pub fn add_keys(&mut self, account: Option<&str>, keys: &[PrivateKey]) -> Result<()> {
        let unlocked = self
            .unlocked
            .as_mut()
            .ok_or_else(|| anyhow!("the wallet is locked: unlock it first"))?;
        for k in keys {
            unlocked.keys.insert(k.public_key(), k.clone());
        }
        if let Some(name) = account {
            if !self.public.accounts.iter().any(|a| a == name) {
                self.public.accounts.push(name.to_string());
                self.public.accounts.sort();
            }
        }
        self.save()
    }

    /// Records the chain id the first time; refuses another chain afterwards.
    pub fn bind_chain(&mut self, chain_id: &str) -> Result<()> {
        match &self.public.chain_id {
            Some(mine) if mine != chain_id => {
                bail!("this wallet belongs to chain {mine}, but the node serves chain {chain_id}")
            }
            Some(_) => Ok(()),
            None if self.is_locked() => Ok(()),
            None => {
                self.public.chain_id = Some(chain_id.to_string());
                self.save()
            }
        }
    }

    /// Seals the keys under the current password and writes the file atomically.
    fn save(&mut self) -> Result<()> {
        let unlocked = self
            .unlocked
            .as_ref()
            .ok_or_else(|| anyhow!("the wallet is locked"))?;
        let envelope = self
            .sealed
            .as_mut()
            .expect("an unlocked wallet has an envelope");
        envelope.public = self.public.clone();
        let wifs: Vec<String> = unlocked.keys.values().map(|k| k.to_wif()).collect();
        let plain = Zeroizing::new(serde_json::to_vec(&wifs).expect("strings serialize"));
        let nonce = random::<24>();
        envelope.ciphertext = XChaCha20Poly1305::new(&(*unlocked.key).into())
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &plain,
                    aad: &aad(&envelope.public),
                },
            )
            .map_err(|_| anyhow!("sealing the wallet failed"))?;
        envelope.cipher.nonce = nonce.to_vec();
        let text = serde_json::to_string_pretty(envelope).expect("the envelope serializes");
        write_private(&self.path, text.as_bytes())
    }
}

/// Writes `bytes` to `path` atomically, readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().with_context(|| format!("cannot write wallet file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("carbyne-wallet-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("wallet.json")
    }

    #[test]
    fn keys_survive_a_round_trip_and_the_file_is_private() {
        let path = temp("roundtrip");
        let mut w = WalletFile::open(&path).unwrap();
        assert!(w.is_new());
        w.set_password("correct horse").unwrap();
        let key = PrivateKey::from_label("k1");
        w.add_keys(Some("alice"), std::slice::from_ref(&key))
            .unwrap();
        w.bind_chain("abcd").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&key.to_wif()), "the key is sealed");

        let mut again = WalletFile::open(&path).unwrap();
        assert!(again.is_locked() && !again.is_new());
        assert_eq!(again.public.accounts, ["alice"]);
        assert_eq!(again.public.chain_id.as_deref(), Some("abcd"));
        assert!(again.keys().is_err());
        again.unlock("correct horse").unwrap();
        assert_eq!(
            again
                .private_key(&key.public_key())
                .unwrap()
                .unwrap()
                .to_wif(),
            key.to_wif()
        );
        again.lock();
        assert!(again.private_key(&key.public_key()).is_err());
    }

    #[test]
    fn a_wrong_password_or_an_altered_file_is_refused() {
        let path = temp("wrong");
        let mut w = WalletFile::open(&path).unwrap();
        w.set_password("right").unwrap();
        w.add_keys(Some("alice"), &[PrivateKey::from_label("k")])
            .unwrap();
        let mut again = WalletFile::open(&path).unwrap();
        let e = again.unlock("wrong").unwrap_err().to_string();
        assert!(e.contains("wrong password"), "{e}");
        // Renaming the account in the clear part breaks the seal too.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("alice", "mallory");
        std::fs::write(&path, text).unwrap();
        let mut altered = WalletFile::open(&path).unwrap();
        assert!(altered.unlock("right").is_err());
        std::fs::write(&path, "not json").unwrap();
        let e = WalletFile::open(&path).err().unwrap().to_string();
        assert!(e.contains("not a carbyne wallet file"), "{e}");
    }

    #[test]
    fn another_chain_is_refused_and_the_password_can_change() {
        let path = temp("chain");
        let mut w = WalletFile::open(&path).unwrap();
        w.set_password("one").unwrap();
        w.bind_chain("aaaa").unwrap();
        assert!(w
            .bind_chain("bbbb")
            .unwrap_err()
            .to_string()
            .contains("belongs to chain aaaa"));
        w.add_keys(None, &[PrivateKey::from_label("x")]).unwrap();
        w.set_password("two").unwrap();
        let mut again = WalletFile::open(&path).unwrap();
        assert!(again.unlock("one").is_err());
        again.unlock("two").unwrap();
        assert_eq!(again.keys().unwrap().len(), 1);
    }
}
