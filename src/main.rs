//! `carbyne`: node | wallet | bench | profile. This file only assembles components.

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser)]
#[command(
    name = "carbyne",
    version,
    about = "A Graphene-style DPoS validator appliance"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a witness node.
    Node(carbyne::node::dev::NodeArgs),
    /// The cli_wallet-style wallet (not built yet in this release).
    Wallet {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Hardware benchmarks (not built yet in this release; see `cargo bench`).
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Detect or check hardware profiles (not built yet in this release).
    Profile {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => carbyne::node::dev::run(args),
        Command::Wallet { .. } => {
            anyhow::bail!("`carbyne wallet` is not built yet in this release")
        }
        Command::Bench { .. } => {
            anyhow::bail!(
                "`carbyne bench` is not built yet in this release; run `cargo bench --bench blp`"
            )
        }
        Command::Profile { .. } => {
            anyhow::bail!("`carbyne profile` is not built yet in this release")
        }
    }
}
