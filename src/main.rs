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
    /// The cli_wallet-style wallet: one command, an interactive prompt, or a
    /// JSON-RPC server (`--rpc-listen`).
    Wallet(carbyne::wallet::cli::WalletArgs),
    /// Hardware benchmarks: every stage alone and the pipeline end to end.
    Bench(carbyne::bench::BenchArgs),
    /// Detect or check hardware profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Write a profile for this machine from its hwloc topology.
    Detect {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        /// Also print the topology that was read.
        #[arg(long)]
        verbose: bool,
    },
    /// Check a profile against this machine and explain every problem.
    Check { file: std::path::PathBuf },
}

fn profile(cmd: ProfileCommand) -> anyhow::Result<()> {
    use carbyne::profile::{check, detect, Profile};
    let topo = affinity::detect();
    match cmd {
        ProfileCommand::Detect { output, verbose } => {
            if verbose {
                eprintln!("{}", topo.describe());
            }
            let text = detect::render(&detect::detect(&topo));
            match output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        ProfileCommand::Check { file } => {
            let p = Profile::load(&file)?;
            let problems = check::check(&p, &topo);
            println!(
                "{}: profile `{}` on {} ({} cores, CPUs {})",
                file.display(),
                p.machine.name,
                topo.cpu_model,
                topo.cores_count(),
                affinity::format_cpu_list(&topo.allowed_cpus)
            );
            println!("placement: {}", p.describe_placement());
            for problem in &problems {
                println!("{problem}");
            }
            let errors = problems.iter().filter(|p| p.is_error()).count();
            if errors > 0 {
                anyhow::bail!("{errors} error(s): the node would refuse this profile");
            }
            println!(
                "ok: the profile fits this machine ({} warning(s))",
                problems.len()
            );
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Node(args) => carbyne::node::dev::run(args),
        Command::Wallet(args) => carbyne::wallet::cli::run(args),
        Command::Bench(args) => {
            tracing_subscriber::fmt()
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "warn".into()),
                )
                .init();
            carbyne::bench::run(args)
        }
        Command::Profile(cmd) => profile(cmd),
    };
    // Errors are for people: the message and its causes, without a stack trace.
    if let Err(e) = outcome {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
