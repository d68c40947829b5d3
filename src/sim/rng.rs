//! Seeded randomness.
//!
//! Contract: one `u64` seed per run. Every component draws from its own ChaCha8 stream, derived
//! from the seed and a fixed stream label, so adding a client or a fault never shifts the draws of
//! the network or the election jitter. No OS randomness is ever used.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which component a stream belongs to. The numeric label is part of the reproducibility
/// contract: changing it changes every trace.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    /// The network.
    Network,
    /// Client <-> member latency.
    ClientNetwork,
    /// Member {0}'s disk latencies.
    Disk(u64),
    /// Member {0}'s election timeouts.
    ElectionJitter(u64),
    /// Each member's first tick.
    TickPhase,
    /// Client {0}'s round-robin start.
    Client(u64),
    /// The Kubernetes layer.
    Kubernetes,
}

impl Stream {
    fn label(self) -> u64 {
        match self {
            Stream::Network => 1,
            Stream::ClientNetwork => 2,
            Stream::ElectionJitter(n) => 3_000 + n,
            Stream::TickPhase => 4,
            Stream::Disk(n) => 1_000 + n,
            Stream::Client(n) => 1_000_000 + n,
            Stream::Kubernetes => 5,
        }
    }
}

/// A component's private random stream.
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A member's or component's own stream of the seed.
    pub fn fork(seed: u64, stream: Stream) -> SimRng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream.label());
        SimRng(r)
    }

    /// Uniform in `[lo, hi]` (inclusive); `lo` when `hi <= lo`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.gen_range(lo..=hi)
        }
    }

    /// True with probability `ratio`.
    pub fn chance(&mut self, ratio: Ratio) -> bool {
        ratio.num != 0 && self.0.gen_range(0..ratio.den) < ratio.num
    }
}

/// A probability as an integer ratio `num/den` (`"1/100"`), never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Ratio {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl Ratio {
    /// Never (0/1).
    pub const NEVER: Ratio = Ratio { num: 0, den: 1 };

    /// Parses `"num/den"` with `0 <= num <= den` and `den > 0`.
    pub fn parse(text: &str) -> Result<Ratio, String> {
        let bad = || {
            format!("invalid ratio `{text}`: expected `num/den` with 0 <= num <= den, den > 0, e.g. \"1/100\"")
        };
        let (a, b) = text.split_once('/').ok_or_else(bad)?;
        let num: u64 = a.trim().parse().map_err(|_| bad())?;
        let den: u64 = b.trim().parse().map_err(|_| bad())?;
        if den == 0 || num > den {
            return Err(bad());
        }
        Ok(Ratio { num, den })
    }
}

impl<'de> serde::Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ratio::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let mut a = SimRng::fork(7, Stream::Network);
        let mut b = SimRng::fork(7, Stream::Network);
        let mut c = SimRng::fork(7, Stream::Client(0));
        let xa: Vec<u64> = (0..8).map(|_| a.between(0, 1_000_000)).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.between(0, 1_000_000)).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.between(0, 1_000_000)).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn ratios() {
        assert_eq!(Ratio::parse("1/100"), Ok(Ratio { num: 1, den: 100 }));
        assert!(Ratio::parse("2/1").is_err());
        assert!(Ratio::parse("1/0").is_err());
        assert!(Ratio::parse("0.5").is_err());
        let mut r = SimRng::fork(1, Stream::Network);
        assert!(!(0..1000).any(|_| r.chance(Ratio::NEVER)));
        assert!((0..1000).all(|_| r.chance(Ratio { num: 1, den: 1 })));
        let hits = (0..10_000)
            .filter(|_| r.chance(Ratio { num: 1, den: 4 }))
            .count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }
}
