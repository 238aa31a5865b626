//! What the overhead benchmark measured, kept per case, transport and side, and printed at the
//! end of the run: criterion's medians and their ratios, the direct cases against the mended
//! hand-written set-up, and the paired ratios.
//!
//! criterion calls a routine a few times to warm up and then exactly `sample_size` times to
//! measure; the median here is over those last calls' time per iteration, which is what
//! criterion reports as the median too.

use std::{collections::BTreeMap, fmt, sync::Mutex, time::Duration};

use tonic_testkit::Transport;

/// What one benchmark does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Case {
    /// Start a server, connect, first unary call, shut down.
    Cycle,
    /// One unary call on a warm client.
    Unary,
    /// A server stream of 10,000 small messages.
    Stream,
}

impl Case {
    /// How many samples criterion takes of this case.
    pub fn sample_size(self) -> usize {
        match self {
            Case::Stream => 20,
            Case::Cycle | Case::Unary => 100,
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Case::Cycle => "cycle",
            Case::Unary => "unary",
            Case::Stream => "stream",
        })
    }
}

/// Who serves: plain tonic, or the kit in one of its configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// Hand-written tonic.
    Hand,
    /// Hand-written direct tonic with what a direct call lacks next to a served one mended by
    /// hand (benches/hand.rs, `Mended`).
    Mended,
    /// The kit with the journal on.
    Kit,
    /// The kit with the journal off and no `Faults`.
    Bare,
    /// The kit with the journal off and a `Faults` handle whose rule matches no call.
    Faults,
}

impl Side {
    /// The kit's configurations, in the order they are measured.
    pub const KIT: [Side; 3] = [Side::Kit, Side::Bare, Side::Faults];

    /// The benchmark's name within its group.
    pub fn name(self) -> &'static str {
        match self {
            Side::Hand => "hand",
            Side::Mended => "hand-mended",
            Side::Kit => "kit",
            Side::Bare => "bare",
            Side::Faults => "faults",
        }
    }
}

/// One benchmark: case, transport and side.
pub type Id = (Case, Transport, Side);

/// Time per iteration of every call of every routine, by benchmark.
#[derive(Default)]
pub struct Recorder {
    criterion: Mutex<BTreeMap<Key, Vec<f64>>>,
    /// Time per iteration in each paired round, by round.
    paired: Mutex<BTreeMap<Key, BTreeMap<usize, f64>>>,
}

type Key = (Case, u8, Side);

impl Recorder {
    /// Keeps one call's time per iteration, and hands the elapsed time back to criterion.
    pub fn record(&self, (case, transport, side): Id, elapsed: Duration, iters: u64) -> Duration {
        let per_iter = elapsed.as_secs_f64() * 1e9 / iters as f64;
        let key = (case, transport_index(transport), side);
        self.criterion.lock().unwrap().entry(key).or_default().push(per_iter);
        elapsed
    }

    /// Keeps one side's time per iteration in paired round `round`.
    pub fn record_paired(
        &self,
        (case, transport, side): Id,
        round: usize,
        elapsed: Duration,
        iters: u64,
    ) {
        let per_iter = elapsed.as_secs_f64() * 1e9 / iters as f64;
        let key = (case, transport_index(transport), side);
        self.paired.lock().unwrap().entry(key).or_default().insert(round, per_iter);
    }

    /// The median over the paired rounds of `side`'s time over `base`'s in the same round.
    fn paired_ratio(
        &self,
        case: Case,
        transport: Transport,
        side: Side,
        base: Side,
    ) -> Option<f64> {
        let paired = self.paired.lock().unwrap();
        let key = |side| (case, transport_index(transport), side);
        let (sides, bases) = (paired.get(&key(side))?, paired.get(&key(base))?);
        let ratios = sides.iter().filter_map(|(round, t)| Some(t / bases.get(round)?)).collect();
        median(ratios)
    }

    /// The median time per iteration over criterion's measured samples, in nanoseconds.
    pub fn median(&self, case: Case, transport: Transport, side: Side) -> Option<f64> {
        let all = self.criterion.lock().unwrap();
        let calls = all.get(&(case, transport_index(transport), side))?;
        median(calls[calls.len().saturating_sub(case.sample_size())..].to_vec())
    }

    /// Prints the tables: a row per case and transport measured in this run.
    pub fn print_table(&self) {
        println!(
            "\nMedians per iteration; kit = journal on, bare = journal off, faults = bare + a Faults handle with no matching rule.\n"
        );
        println!(
            "| case | transport | hand | kit | bare | faults | kit / hand | faults / bare | kit / bare |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for case in [Case::Cycle, Case::Unary, Case::Stream] {
            for transport in Transport::ALL {
                let [hand, kit, bare, faults] = [Side::Hand, Side::Kit, Side::Bare, Side::Faults]
                    .map(|side| self.median(case, transport, side));
                if [hand, kit, bare, faults].iter().all(Option::is_none) {
                    continue;
                }
                println!(
                    "| {case} | {transport} | {} | {} | {} | {} | {} | {} | {} |",
                    time(hand),
                    time(kit),
                    time(bare),
                    time(faults),
                    ratio(kit, hand),
                    ratio(faults, bare),
                    ratio(kit, bare),
                );
            }
        }
        self.print_mended();
        self.print_paired();
    }

    /// Prints the paired ratios, for the cases measured in pairs.
    fn print_paired(&self) {
        let rounds = self.paired.lock().unwrap().values().map(BTreeMap::len).max();
        let Some(rounds) = rounds else { return };
        println!(
            "\nPaired: the median over {rounds} rounds of each ratio taken within a round, in which every side ran one batch back to back (the order rotating from round to round).\n"
        );
        println!(
            "| case | transport | kit / hand | faults / bare | kit / bare | kit / hand-mended |"
        );
        println!("|---|---|---:|---:|---:|---:|");
        for case in [Case::Cycle, Case::Unary, Case::Stream] {
            for transport in Transport::ALL {
                let ratio = |side, base| self.paired_ratio(case, transport, side, base);
                let row = [
                    ratio(Side::Kit, Side::Hand),
                    ratio(Side::Faults, Side::Bare),
                    ratio(Side::Kit, Side::Bare),
                    ratio(Side::Kit, Side::Mended),
                ];
                if row.iter().all(Option::is_none) {
                    continue;
                }
                let [a, b, c, d] =
                    row.map(|value| value.map_or("-".to_owned(), |r| format!("{r:.3}")));
                println!("| {case} | {transport} | {a} | {b} | {c} | {d} |");
            }
        }
    }

    /// Prints the direct cases against the hand-written set-up with the same mends, if measured.
    fn print_mended(&self) {
        let rows: Vec<_> = [Case::Cycle, Case::Unary, Case::Stream]
            .into_iter()
            .filter_map(|case| {
                let mended = self.median(case, Transport::Direct, Side::Mended)?;
                Some((case, mended, self.median(case, Transport::Direct, Side::Kit)))
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        println!(
            "\nDirect, against hand-written tonic that also clears the client's extensions, gives the handler a peer address and enforces grpc-timeout.\n"
        );
        println!("| case | hand-mended | kit | kit / hand-mended |");
        println!("|---|---:|---:|---:|");
        for (case, mended, kit) in rows {
            println!(
                "| {case} | {} | {} | {} |",
                time(Some(mended)),
                time(kit),
                ratio(kit, Some(mended))
            );
        }
    }
}

/// The median of `values`; `None` when there are none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some((values[middle - 1] + values[middle]) / 2.0),
    }
}

fn transport_index(transport: Transport) -> u8 {
    match transport {
        Transport::Direct => 0,
        Transport::Memory => 1,
        Transport::Tcp => 2,
        other => unreachable!("no report column for {other:?}"),
    }
}

fn time(nanos: Option<f64>) -> String {
    match nanos {
        None => "-".to_owned(),
        Some(ns) if ns < 1e3 => format!("{ns:.0} ns"),
        Some(ns) if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{:.2} ms", ns / 1e6),
    }
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) => format!("{:.3}", n / d),
        _ => "-".to_owned(),
    }
}
