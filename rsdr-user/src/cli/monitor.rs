use rsdr_user::{
    pins::PinDir,
    privilege::{self, Need},
    settings,
};

/// Switch global monitor mode: count what would be done for every VIP, change nothing
///
/// In monitor mode every decision is counted under `monitored` in `rsdr
/// stats`, and every frame passes unchanged. Per-VIP monitor mode is
/// `rsdr vip add ... --monitor`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  rsdr monitor on\n  rsdr stats --json | jq .global.monitored\n  rsdr monitor off"
)]
pub struct Args {
    #[arg(value_enum)]
    state: State,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum State {
    On,
    Off,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::Bpf)?;
    let on = matches!(args.state, State::On);
    settings::set_monitor(pins, on)?;
    println!(
        "monitor mode {}",
        if on {
            "on: decisions are counted, nothing is enforced"
        } else {
            "off: decisions are enforced"
        }
    );
    Ok(())
}
