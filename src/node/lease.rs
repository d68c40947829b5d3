//! A member's lessor: when each etcd lease expires, as this member sees it (etcd's
//! `server/lease/lessor.go`, read at v3.4.23 and v3.5.6).
//!
//! Models: only the *primary* lessor, the leader's, keeps expiry times; every other member holds
//! its leases "forever". A member becomes primary (`Promote`) when, believing it leads, it applies
//! the empty entry of its new term (`applyEntryNormal`); every lease then expires at now + TTL +
//! the election timeout, so a change of leader never expires a lease early. It stops being primary
//! (`Demote`) when its Ready loop learns that it no longer leads. A renewal on the primary sets the
//! expiry to now + TTL. The primary's loop runs every 500 ms (`runLoop`), finds expired leases
//! and proposes their revocation through raft; a lease found expired is reported again only after
//! 3 s (`expiredLeaseRetryInterval`). Keys attached to a lease are deleted when the revocation is
//! applied (the state machine, `kv.rs`).
//!
//! Fault model: the lessor is volatile. A crash loses it; the restarted member rebuilds its
//! leases from the replayed log and holds them forever until it is promoted. A stalled WAL does
//! not stop the lessor (it runs in its own goroutine in etcd), but an old leader whose Ready loop
//! waits on fsync never learns that it was deposed, so it stays primary and keeps renewing.
//! A paused member's loop does not run.
//!
//! Invariants: a member holds expiry times only while primary; every lease it knows is in the
//! state machine (grants and revocations reach it only by apply).

use crate::sim::ids::LeaseId;
use crate::sim::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// How often the primary looks for expired leases (`lessor.runLoop`).
pub const LESSOR_LOOP: SimDuration = SimDuration::from_millis(500);
/// How long before a lease found expired is reported again (`expiredLeaseRetryInterval`).
pub const EXPIRED_RETRY: SimDuration = SimDuration::from_secs(3);
/// How long a member that forwards a renewal waits before trying again when the leader's lessor
/// was not primary yet or no leader was known (the 50 ms throttle of `LeaseRenew` in 3.5).
pub const FORWARD_RETRY: SimDuration = SimDuration::from_millis(50);

/// Why a renewal was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewError {
    /// This member's lessor is not primary: the request goes to the leader.
    NotPrimary,
    /// No such lease (or it expired and awaits its revocation).
    NotFound,
}

/// One lease's expiry, as the primary keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expiry {
    /// When it expires (`None`: never, on a member that is not primary).
    at: Option<SimTime>,
    /// Not reported as expired again before this.
    quiet_until: SimTime,
}

/// A member's lessor.
#[derive(Clone, Debug, Default)]
pub struct Lessor {
    primary: bool,
    leases: BTreeMap<LeaseId, (u64, Expiry)>,
}

impl Lessor {
    /// Whether this member's lessor is primary.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Whether it knows any lease.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// A grant with `ttl_s` was applied.
    pub fn granted(&mut self, id: LeaseId, ttl_s: u64, now: SimTime) {
        let at = self.primary.then(|| now + SimDuration::from_secs(ttl_s));
        let quiet_until = SimTime::ZERO;
        self.leases.insert(id, (ttl_s, Expiry { at, quiet_until }));
    }

    /// A revocation was applied.
    pub fn revoked(&mut self, id: LeaseId) {
        self.leases.remove(&id);
    }

    /// Becomes primary: every lease expires at now + TTL + `extend`. Returns how many leases.
    pub fn promote(&mut self, now: SimTime, extend: SimDuration) -> usize {
        self.primary = true;
        for (ttl_s, e) in self.leases.values_mut() {
            e.at = Some(now + SimDuration::from_secs(*ttl_s) + extend);
        }
        self.leases.len()
    }

    /// Stops being primary: leases never expire here.
    pub fn demote(&mut self) {
        self.primary = false;
        for (_, e) in self.leases.values_mut() {
            e.at = None;
        }
    }

    /// A renewal: the lease now expires at now + TTL; answers the TTL.
    pub fn renew(&mut self, id: LeaseId, now: SimTime) -> Result<u64, RenewError> {
        if !self.primary {
            return Err(RenewError::NotPrimary);
        }
        let (ttl_s, e) = self.leases.get_mut(&id).ok_or(RenewError::NotFound)?;
        if e.at.is_some_and(|at| at <= now) {
            // etcd waits for the revocation in flight and then answers "not found".
            return Err(RenewError::NotFound);
        }
        e.at = Some(now + SimDuration::from_secs(*ttl_s));
        Ok(*ttl_s)
    }

    /// (granted TTL, whole seconds left) of a lease, as LeaseTimeToLive answers on the primary.
    pub fn time_to_live(&self, id: LeaseId, now: SimTime) -> Result<(u64, i64), RenewError> {
        if !self.primary {
            return Err(RenewError::NotPrimary);
        }
        let (ttl_s, e) = self.leases.get(&id).ok_or(RenewError::NotFound)?;
        let left = e.at.map_or(i64::MAX, |at| {
            at.as_micros() as i64 / 1_000_000 - now.as_micros() as i64 / 1_000_000
        });
        Ok((*ttl_s, left.max(-1)))
    }

    /// The primary's loop: leases expired by `now` that were not reported in the last 3 s.
    pub fn expired(&mut self, now: SimTime) -> Vec<LeaseId> {
        if !self.primary {
            return vec![];
        }
        let mut out = Vec::new();
        for (id, (_, e)) in self.leases.iter_mut() {
            if e.at.is_some_and(|at| at <= now) && e.quiet_until <= now {
                e.quiet_until = now + EXPIRED_RETRY;
                out.push(*id);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    #[test]
    fn only_the_primary_expires_and_promotion_extends() {
        let mut l = Lessor::default();
        let id = LeaseId(1);
        l.granted(id, 10, s(0));
        assert_eq!(l.renew(id, s(1)), Err(RenewError::NotPrimary));
        assert!(l.expired(s(100)).is_empty(), "not primary: never expires");
        l.promote(s(100), SimDuration::from_secs(1));
        assert!(l.expired(s(110)).is_empty());
        assert_eq!(l.expired(s(111)), vec![id]);
        assert!(
            l.expired(s(112)).is_empty(),
            "reported again only after 3 s"
        );
        assert_eq!(l.expired(s(114)), vec![id]);
        assert_eq!(l.renew(id, s(114)), Err(RenewError::NotFound));
        l.demote();
        assert!(l.expired(s(200)).is_empty());
    }

    #[test]
    fn renewal_moves_the_expiry() {
        let mut l = Lessor::default();
        let id = LeaseId(1);
        l.promote(s(0), SimDuration::ZERO);
        l.granted(id, 10, s(0));
        assert_eq!(l.renew(id, s(8)), Ok(10));
        assert_eq!(l.time_to_live(id, s(9)), Ok((10, 9)));
        assert!(l.expired(s(17)).is_empty());
        assert_eq!(l.expired(s(18)), vec![id]);
        assert_eq!(l.renew(LeaseId(2), s(1)), Err(RenewError::NotFound));
    }
}
