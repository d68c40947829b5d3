//! Porcupine-style register histories, for tests and benchmarks: the shape of Jepsen's etcd
//! register test (porcupine's `test_data/jepsen/etcd_*.log`, `tests/data/porcupine-etcd`): one
//! register; reads, writes and compare-and-swaps of five small values; many concurrent clients;
//! a share of writes and compare-and-swaps whose outcome the client never learns (Jepsen's
//! `:info`: the process is then replaced by a new one, so operations pile up pending).
//!
//! Each history is linearizable by construction: every operation takes effect at one instant
//! inside its interval, or, when its outcome is unknown, at some instant after its invocation or
//! never; results are what the register held then. As in Jepsen's histories, a failed
//! compare-and-swap is left out (`:fail`: it did not happen) and so is a read of unknown outcome.
//! `corrupt` makes one read return a value certainly overwritten before it began, which no
//! order explains.
//! Deterministic from the seed.

use super::linearizability::{LinKind, LinOp, LinResult};
use crate::node::kv::Compare;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A value no operation writes (they write `0`..`4`).
const NEVER_WRITTEN: &str = "5";

/// One operation before its result is known.
struct Planned {
    client: u64,
    kind: LinKind,
    invoke_us: u64,
    complete_us: Option<u64>,
    /// When it takes effect (`None`: never).
    effect_us: Option<u64>,
}

/// A register history of `ops` operations from `clients` concurrent clients (see the module
/// documentation); `corrupt` makes it non-linearizable.
pub fn register_history(seed: u64, ops: usize, clients: usize, corrupt: bool) -> Vec<LinOp> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let planned = plan(&mut rng, ops, clients.max(1));
    let mut history = outcomes(planned);
    if corrupt {
        stale_read(&mut rng, &mut history);
    }
    history
}

/// Makes one read return a value that was certainly overwritten before the read began: every
/// write of that value was acknowledged, and an acknowledged write of another value was invoked
/// after all of them completed and completed before the read was invoked. No linearization can
/// place the read after a write of the stale value and before the overwrite. Falls back to a
/// value nothing wrote when the history has no such read.
fn stale_read(rng: &mut ChaCha8Rng, h: &mut [LinOp]) {
    let reads: Vec<usize> = (0..h.len())
        .filter(|i| h[*i].kind == LinKind::Get && h[*i].result.is_some())
        .collect();
    if reads.is_empty() {
        return;
    }
    let start = rng.gen_range(0..reads.len());
    for &r in reads.iter().cycle().skip(start).take(reads.len()) {
        if let Some(v) = provably_stale(h, r) {
            h[r].result = Some(LinResult::Get {
                value: Some(v),
                mod_revision: 0,
            });
            return;
        }
    }
    h[reads[start]].result = Some(LinResult::Get {
        value: Some(NEVER_WRITTEN.into()),
        mod_revision: 0,
    });
}

/// A value read `r` cannot have seen (see [`stale_read`]), if there is one.
fn provably_stale(h: &[LinOp], r: usize) -> Option<String> {
    let invoked = h[r].invoke_us;
    let writes = |v: &str| -> Vec<&LinOp> {
        h.iter()
            .filter(|o| match &o.kind {
                LinKind::Put { value } => value == v,
                LinKind::Txn { then_put, .. } => then_put == v,
                _ => false,
            })
            .collect()
    };
    let current = match &h[r].result {
        Some(LinResult::Get { value, .. }) => value.clone(),
        _ => None,
    };
    (0..5u8).map(|v| v.to_string()).find(|v| {
        let ws = writes(v);
        let Some(last_done) = ws.iter().map(|o| o.complete_us).max().flatten() else {
            return false; // never written, or some write of it has an unknown outcome
        };
        let all_known = ws.iter().all(|o| o.complete_us.is_some());
        let overwritten = h.iter().any(|o| {
            matches!(&o.kind, LinKind::Put { value } if value != v)
                && o.invoke_us > last_done
                && o.complete_us.is_some_and(|c| c < invoked)
        });
        Some(v.as_str()) != current.as_deref() && all_known && overwritten
    })
}

fn plan(rng: &mut ChaCha8Rng, ops: usize, clients: usize) -> Vec<Planned> {
    let mut free_at = vec![0u64; clients];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let value = |rng: &mut ChaCha8Rng| rng.gen_range(0..5u8).to_string();
    (0..ops)
        .map(|_| {
            let c = rng.gen_range(0..clients);
            let invoke_us = free_at[c] + rng.gen_range(0..200);
            let took = rng.gen_range(10..400);
            let kind = match rng.gen_range(0..10) {
                0..=3 => LinKind::Get,
                4..=6 => LinKind::Put { value: value(rng) },
                _ => LinKind::Txn {
                    compare: Compare::Value(value(rng)),
                    then_put: value(rng),
                },
            };
            let unknown = kind != LinKind::Get && rng.gen_ratio(1, 4);
            let effect_us = match unknown {
                false => Some(invoke_us + rng.gen_range(0..took)),
                true if rng.gen_bool(0.5) => Some(invoke_us + rng.gen_range(0..5_000)),
                true => None,
            };
            let client = process[c];
            if unknown {
                process[c] = next_process; // Jepsen replaces a process whose op is :info
                next_process += 1;
            }
            free_at[c] = invoke_us + took;
            let complete_us = (!unknown).then_some(invoke_us + took);
            Planned {
                client,
                kind,
                invoke_us,
                complete_us,
                effect_us,
            }
        })
        .collect()
}

/// Plays the operations in the order they take effect and writes down what each client saw.
fn outcomes(planned: Vec<Planned>) -> Vec<LinOp> {
    let mut order: Vec<usize> = (0..planned.len())
        .filter(|i| planned[*i].effect_us.is_some())
        .collect();
    order.sort_by_key(|i| (planned[*i].effect_us, *i));
    let mut results: Vec<Option<LinResult>> = vec![None; planned.len()];
    let mut keep = vec![true; planned.len()];
    let mut register: Option<String> = None;
    for i in order {
        let p = &planned[i];
        let result = match &p.kind {
            LinKind::Get => LinResult::Get {
                value: register.clone(),
                mod_revision: 0,
            },
            LinKind::Put { value } => {
                register = Some(value.clone());
                LinResult::Put { revision: 0 }
            }
            LinKind::Txn { compare, then_put } => {
                let holds = matches!(compare, Compare::Value(v) if register.as_deref() == Some(v));
                if holds {
                    register = Some(then_put.clone());
                }
                // A failed compare-and-swap is Jepsen's `:fail`: left out when its client knew.
                keep[i] = holds || p.complete_us.is_none();
                LinResult::Txn {
                    succeeded: true,
                    revision: 0,
                }
            }
            LinKind::Delete => unreachable!("the register history has no deletes"),
        };
        results[i] = Some(result);
    }
    planned
        .into_iter()
        .zip(results)
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((p, r), _)| LinOp {
            client: p.client,
            key: "register".into(),
            result: p.complete_us.and(r),
            kind: p.kind,
            invoke_us: p.invoke_us,
            complete_us: p.complete_us,
        })
        .collect()
}

/// A register history in the `jepsen.util` log format of Jepsen's etcd test (what porcupine's
/// `parseJepsenLog` and [`super::jepsen::parse_log`] read): `:invoke`, then `:ok` at completion;
/// an operation of unknown outcome gets `:info` after every other line (its process was
/// replaced, so nothing follows it). Values must be integers, as in Jepsen's register.
pub fn jepsen_log(h: &[LinOp]) -> String {
    let mut lines: Vec<(u64, u8, String)> = Vec::new();
    for (i, op) in h.iter().enumerate() {
        let (f, arg) = match &op.kind {
            LinKind::Get => ("read", "nil".to_string()),
            LinKind::Put { value } => ("write", value.clone()),
            LinKind::Txn {
                compare: Compare::Value(from),
                then_put,
            } => ("cas", format!("[{from} {then_put}]")),
            other => panic!("op {i}: {other:?} is not a register read, write or cas"),
        };
        let p = op.client;
        lines.push((op.invoke_us, 0, format!("{p}\t:invoke\t:{f}\t{arg}")));
        let done = match (&op.result, op.complete_us) {
            (Some(LinResult::Get { value, .. }), Some(at)) => {
                let read = value.as_deref().unwrap_or("nil");
                (at, 1, format!("{p}\t:ok\t:read\t{read}"))
            }
            (Some(_), Some(at)) => (at, 1, format!("{p}\t:ok\t:{f}\t{arg}")),
            _ => (u64::MAX, 2, format!("{p}\t:info\t:{f}\t{arg}")),
        };
        lines.push(done);
    }
    // Completions before invocations at the same instant: the intervals do not overlap.
    lines.sort_by_key(|(at, kind, _)| (*at, std::cmp::Reverse(*kind == 1)));
    lines
        .into_iter()
        .map(|(_, _, l)| format!("INFO  jepsen.util - {l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::linearizability::{check, Answer};

    #[test]
    fn generated_histories_are_linearizable_and_corrupted_ones_are_not() {
        // Sound on every one; decided on most: a corrupted history with many operations of
        // unknown outcome can exhaust the search budget (Unknown), never give a false verdict.
        let mut undecided = 0;
        for seed in 0..30 {
            let ok = register_history(seed, 80, 5, false);
            assert!(ok.len() > 50, "seed {seed}: {} ops", ok.len());
            assert!(
                matches!(check(&ok), Answer::Linearizable),
                "seed {seed}: a history built linearizable"
            );
            match check(&register_history(seed, 80, 5, true)) {
                Answer::NotLinearizable(_) => {}
                Answer::Unknown(_) => undecided += 1,
                Answer::Linearizable => panic!("seed {seed}: a stale read passed"),
            }
        }
        assert!(
            undecided <= 6,
            "{undecided} of 60 corrupted histories undecided"
        );
    }

    #[test]
    fn a_history_written_as_a_jepsen_log_reads_back_with_the_same_verdict() {
        for seed in 0..20 {
            for corrupt in [false, true] {
                let h = register_history(seed, 80, 5, corrupt);
                let log = jepsen_log(&h);
                let back = crate::check::jepsen::parse_log(&log, "gen.log").unwrap();
                assert_eq!(back.ops.len(), h.len(), "seed {seed}");
                let verdict = |a: Answer| std::mem::discriminant(&a);
                assert_eq!(
                    verdict(check(&back.ops)),
                    verdict(check(&h)),
                    "seed {seed} corrupt {corrupt}:\n{log}"
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_history() {
        assert_eq!(
            register_history(7, 80, 20, false),
            register_history(7, 80, 20, false)
        );
    }
}
