//! Validation of the Kubernetes tables (`[kubernetes]`, `[apiserver]`, `[kubelet]`,
//! `[controller_manager]`, `[load_balancer]`) into a [`K8sSpec`], with upstream defaults
//! (`docs/reference/etcd-kubernetes-defaults.md`).

use super::file::*;
use super::{Validator, R};
use crate::k8s::{EtcdServers, K8sSpec, KubeletPath};
use crate::sim::time::SimDuration;
use serde_spanned::Spanned;

/// The leader-election timings of the controller-managers.
struct Election {
    lease: SimDuration,
    renew_deadline: SimDuration,
    retry: SimDuration,
}

impl Validator<'_> {
    /// The Kubernetes layer, if the file has a `[kubernetes]` table.
    pub(super) fn kubernetes(&self, root: &FileRoot, n: u64) -> R<Option<K8sSpec>> {
        let Some(k) = &root.kubernetes else {
            self.no_stray_kubernetes_tables(root)?;
            return Ok(None);
        };
        let (api_d, kl_d, kcm_d, lb_d) = Default::default();
        let api: &FileApiserver = root.apiserver.as_ref().map_or(&api_d, |s| s.get_ref());
        let kl: &FileKubelet = root.kubelet.as_ref().map_or(&kl_d, |s| s.get_ref());
        let kcm: &FileKcm = root
            .controller_manager
            .as_ref()
            .map_or(&kcm_d, |s| s.get_ref());
        let lb: &FileLb = root.load_balancer.as_ref().map_or(&lb_d, |s| s.get_ref());
        let kf = k.get_ref();
        let secs = |d: &Option<Dur>, default: u64, what: &str| {
            self.positive(d, SimDuration::from_secs(default), what)
        };
        let workers = self.workers(kf)?;
        let lease_duration = secs(&kl.lease_duration, 40, "lease_duration")?;
        let renew_default = SimDuration::from_micros(lease_duration.as_micros() / 4);
        let renew_interval = self.positive(&kl.renew_interval, renew_default, "renew_interval")?;
        let grace = self.grace(kf, kl, kcm, renew_interval, k.span().start)?;
        let kcm_at = root
            .controller_manager
            .as_ref()
            .map_or(k.span().start, |s| s.span().start);
        let election = self.election(kcm, kcm_at)?;
        Ok(Some(K8sSpec {
            workers,
            version: kf
                .version
                .as_ref()
                .map_or_else(|| "1.32".to_string(), |v| v.get_ref().clone()),
            etcd_servers: match api.etcd_servers {
                None | Some(EtcdServersName::Local) => EtcdServers::Local,
                Some(EtcdServersName::All) => EtcdServers::All,
            },
            apiserver_health_timeout: secs(
                &api.etcd_healthcheck_timeout,
                2,
                "etcd_healthcheck_timeout",
            )?,
            apiserver_request_timeout: secs(&api.request_timeout, 60, "request_timeout")?,
            kubelet_path: match kl.path {
                None | Some(KubeletPathName::Pinned) => KubeletPath::Pinned,
                Some(KubeletPathName::LbReadyz) => KubeletPath::LbReadyz,
                Some(KubeletPathName::LbTcp) => KubeletPath::LbTcp,
            },
            kubelet_bind: (1..=n).chain(self.bind_workers(kl, workers, n)?).collect(),
            lease_duration,
            renew_interval,
            heartbeat_timeout: secs(&kl.heartbeat_timeout, 10, "heartbeat_timeout")?,
            lease_update_retries: self.count(
                &kl.lease_update_retries,
                5,
                "lease_update_retries",
            )?,
            status_update_frequency: secs(
                &kl.status_update_frequency,
                10,
                "status_update_frequency",
            )?,
            status_report_frequency: secs(
                &kl.status_report_frequency,
                300,
                "status_report_frequency",
            )?,
            node_monitor_period: secs(&kcm.node_monitor_period, 5, "node_monitor_period")?,
            node_monitor_grace_period: grace,
            eviction_toleration: secs(&kcm.eviction_toleration, 300, "eviction_toleration")?,
            leader_lease_duration: election.lease,
            leader_renew_deadline: election.renew_deadline,
            leader_retry_period: election.retry,
            initial_kcm_leader: self.initial_kcm(kcm, n)?,
            lb_check_interval: secs(&lb.check_interval, 2, "check_interval")?,
            lb_fall: self.count(&lb.fall, 3, "fall")?,
            lb_rise: self.count(&lb.rise, 2, "rise")?,
        }))
    }

    /// Kubernetes tables without `[kubernetes]` would be silently ignored: an error instead.
    fn no_stray_kubernetes_tables(&self, root: &FileRoot) -> R<()> {
        let stray = [
            root.apiserver.as_ref().map(|s| s.span().start),
            root.kubelet.as_ref().map(|s| s.span().start),
            root.controller_manager.as_ref().map(|s| s.span().start),
            root.load_balancer.as_ref().map(|s| s.span().start),
        ];
        match stray.into_iter().flatten().next() {
            Some(at) => Err(self.err_at(at, "this table configures the Kubernetes layer: add a [kubernetes] table to turn it on".into())),
            None => Ok(()),
        }
    }

    fn workers(&self, kf: &FileKubernetes) -> R<u64> {
        let Some(w) = &kf.workers else { return Ok(6) };
        let workers = *w.get_ref();
        if workers > 100 {
            return Err(self.err(
                w,
                format!("workers = {workers} is out of range: allowed 0..=100"),
            ));
        }
        Ok(workers)
    }

    /// For each worker, the master whose apiserver its kubelet is pinned to.
    fn bind_workers(&self, kl: &FileKubelet, workers: u64, n: u64) -> R<Vec<u64>> {
        let Some(b) = &kl.bind_workers else {
            return Ok((0..workers).map(|i| i % n + 1).collect());
        };
        let given = b.get_ref().len();
        if given as u64 != workers {
            return Err(self.err(
                b,
                format!(
                    "bind_workers lists {given} masters for {workers} workers: give one per worker"
                ),
            ));
        }
        if let Some(bad) = b.get_ref().iter().find(|m| **m == 0 || **m > n) {
            return Err(self.err(
                b,
                format!(
                    "a kubelet is bound to master {bad}, which does not exist: masters are 1..={n}"
                ),
            ));
        }
        Ok(b.get_ref().clone())
    }

    /// The node-monitor grace period: by version unless set, and longer than the renew interval.
    fn grace(
        &self,
        kf: &FileKubernetes,
        kl: &FileKubelet,
        kcm: &FileKcm,
        renew: SimDuration,
        table_at: usize,
    ) -> R<SimDuration> {
        let default = match &kf.version {
            None => SimDuration::from_secs(50),
            Some(v) => self.grace_for_version(v)?,
        };
        let grace = self.positive(
            &kcm.node_monitor_grace_period,
            default,
            "node_monitor_grace_period",
        )?;
        if grace > renew {
            return Ok(grace);
        }
        let at = kcm
            .node_monitor_grace_period
            .as_ref()
            .map(|s| s.span().start)
            .or(kl.renew_interval.as_ref().map(|s| s.span().start))
            .unwrap_or(table_at);
        Err(self.err_at(at, format!("node_monitor_grace_period ({grace}) must be longer than the kubelet renew_interval ({renew}), or every node flaps")))
    }

    /// `--node-monitor-grace-period` default by Kubernetes version (kubernetes#126287).
    fn grace_for_version(&self, v: &Spanned<String>) -> R<SimDuration> {
        let bad = || {
            self.err(
                v,
                format!(
                    "version `{}` is not `MAJOR.MINOR` (e.g. \"1.31\", \"1.32\")",
                    v.get_ref()
                ),
            )
        };
        let (maj, min) = v.get_ref().split_once('.').ok_or_else(bad)?;
        let (maj, min): (u64, u64) = (
            maj.parse().map_err(|_| bad())?,
            min.parse().map_err(|_| bad())?,
        );
        if maj != 1 {
            return Err(bad());
        }
        Ok(SimDuration::from_secs(if min >= 32 { 50 } else { 40 }))
    }

    /// Leader-election timings, ordered as client-go requires.
    fn election(&self, kcm: &FileKcm, at: usize) -> R<Election> {
        let e = Election {
            lease: self.positive(
                &kcm.leader_lease_duration,
                SimDuration::from_secs(15),
                "leader_lease_duration",
            )?,
            renew_deadline: self.positive(
                &kcm.leader_renew_deadline,
                SimDuration::from_secs(10),
                "leader_renew_deadline",
            )?,
            retry: self.positive(
                &kcm.leader_retry_period,
                SimDuration::from_secs(2),
                "leader_retry_period",
            )?,
        };
        if e.renew_deadline >= e.lease
            || e.retry.as_micros() * 12 / 10 >= e.renew_deadline.as_micros()
        {
            let (l, d, r) = (e.lease, e.renew_deadline, e.retry);
            return Err(self.err_at(at, format!("leader election needs leader_lease_duration ({l}) > leader_renew_deadline ({d}) > 1.2 x leader_retry_period ({r}), as client-go checks")));
        }
        Ok(e)
    }

    fn initial_kcm(&self, kcm: &FileKcm, n: u64) -> R<Option<u64>> {
        match &kcm.initial_leader {
            None => Ok(None),
            Some(s) if *s.get_ref() == 0 || *s.get_ref() > n => Err(self.err(
                s,
                format!("master {} does not exist: masters are 1..={n}", s.get_ref()),
            )),
            Some(s) => Ok(Some(*s.get_ref())),
        }
    }

    /// A count that must be at least 1.
    fn count(&self, v: &Option<Spanned<u32>>, default: u32, what: &str) -> R<u32> {
        match v {
            Some(s) if *s.get_ref() == 0 => Err(self.err(s, format!("{what} must be at least 1"))),
            Some(s) => Ok(*s.get_ref()),
            None => Ok(default),
        }
    }
}
