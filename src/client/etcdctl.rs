//! etcdctl-style output of a finished command, rendered from its history operations.

use super::command::Command;
use super::{HistoryOp, Outcome};
use crate::node::kv::{KvOp, KvResult};
use crate::node::rpc::{MemberInfo, MemberOp, ReplyBody, ServerOp, StatusInfo};
use crate::sim::ids::LeaseId;
use crate::sim::ids::NodeId;

/// What etcdctl prints when `command` finished with these operations.
pub fn render(command: &Command, ops: &[&HistoryOp]) -> Vec<String> {
    match command {
        Command::Kv { .. } | Command::LeaseGrant { .. } | Command::LeaseKeepAlive { .. } => {
            render_kv(ops[0])
        }
        Command::EndpointStatus => render_status(ops),
        Command::Member { change } => render_member(*change, ops[0]),
        Command::EndpointHealth => render_health(ops),
        // Streams print as they go (`client::stream`).
        Command::Watch { .. } | Command::Lock { .. } => vec![],
    }
}

fn error_line(o: &Outcome) -> String {
    match o {
        Outcome::Timeout => "Error: context deadline exceeded".into(),
        Outcome::Failed(m) => format!("Error: {m}"),
        Outcome::Ok | Outcome::Pending => unreachable!("not an error"),
    }
}

fn render_kv(op: &HistoryOp) -> Vec<String> {
    if op.outcome != Outcome::Ok {
        return vec![error_line(&op.outcome)];
    }
    let result = match &op.reply {
        Some(ReplyBody::Kv { result, .. }) => result,
        Some(ReplyBody::Lease {
            id,
            ttl_s,
            granted_ttl_s,
        }) => return render_lease(op, *id, *ttl_s, *granted_ttl_s),
        _ => return vec![],
    };
    match result {
        KvResult::Put { .. } => vec!["OK".into()],
        KvResult::Delete { deleted, .. } => vec![deleted.to_string()],
        KvResult::Txn {
            succeeded: true, ..
        } => vec!["SUCCESS".into(), "".into(), "OK".into()],
        KvResult::Txn {
            succeeded: false, ..
        } => vec!["FAILURE".into()],
        KvResult::Get { kv: Some(kv), .. } => vec![kv.key.to_string(), kv.value.to_string()],
        KvResult::Get { kv: None, .. } => vec![],
        KvResult::LeaseGrant { id, ttl_s, .. } => {
            vec![format!("lease {id} granted with TTL({ttl_s}s)")]
        }
        KvResult::LeaseRevoke { .. } => match op.kind.write_op() {
            Some(KvOp::LeaseRevoke { id }) => vec![format!("lease {id} revoked")],
            _ => vec![],
        },
        KvResult::LeaseNotFound | KvResult::LeaseExists => vec![],
        KvResult::Machine { response } => vec![response.clone()],
    }
}

/// The cluster ID etcd would show (derived from the cluster's name, as etcd derives it from
/// the initial cluster).
pub fn cluster_hex() -> String {
    NodeId(0).member_hex()
}

/// etcdctl's lines for `member add|remove|promote|list` (`etcdctl/ctlv3/command/member_command.go`).
fn render_member(change: MemberOp, op: &HistoryOp) -> Vec<String> {
    if op.outcome != Outcome::Ok {
        return vec![error_line(&op.outcome)];
    }
    let Some(ReplyBody::Members { members }) = &op.reply else {
        return vec![];
    };
    let cluster = cluster_hex();
    match change {
        MemberOp::Add { member, .. } => vec![
            format!("Member {} added to cluster {cluster}", member.member_hex()),
            String::new(),
            format!("ETCD_NAME=\"{member}\""),
            "ETCD_INITIAL_CLUSTER_STATE=\"existing\"".into(),
        ],
        MemberOp::Remove { member } => vec![format!(
            "Member {} removed from cluster {cluster}",
            member.member_hex()
        )],
        MemberOp::Promote { member } => vec![format!(
            "Member {} promoted in cluster {cluster}",
            member.member_hex()
        )],
        MemberOp::List => members.iter().map(member_line).collect(),
    }
}

/// One line of `member list` (etcdctl's simple format): ID, status, name, peer URL, client URL,
/// is learner. A member that has not started yet has no name and no client URL.
fn member_line(m: &MemberInfo) -> String {
    let (status, name, client) = if m.started {
        (
            "started",
            m.id.name(),
            format!("http://{}", m.id.endpoint()),
        )
    } else {
        ("unstarted", String::new(), String::new())
    };
    let peer = format!("http://localhost:{}2380", m.id.0);
    let hex = m.id.member_hex();
    format!(
        "{hex}, {status}, {name}, {peer}, {client}, {}",
        m.is_learner
    )
}

/// etcdctl's lines for `lease keep-alive --once` and `lease timetolive`.
fn render_lease(op: &HistoryOp, id: LeaseId, ttl_s: i64, granted_ttl_s: u64) -> Vec<String> {
    let line = match (&op.kind, ttl_s) {
        (ServerOp::LeaseKeepAlive { .. }, t) if t <= 0 => format!("lease {id} expired or revoked."),
        (ServerOp::LeaseKeepAlive { .. }, t) => format!("lease {id} keepalived with TTL({t})"),
        (_, -1) => format!("lease {id} already expired"),
        (_, t) => format!("lease {id} granted with TTL({granted_ttl_s}s), remaining({t}s)"),
    };
    vec![line]
}

fn render_status(ops: &[&HistoryOp]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    for (op, ep) in ops.iter().map(|o| (o, status_endpoint(o))) {
        match (&op.outcome, &op.reply) {
            (Outcome::Ok, Some(ReplyBody::Status(s))) => rows.push(status_row(&ep, s)),
            (Outcome::Timeout, _) => lines.push(format!(
                "Failed to get the status of endpoint {ep} (context deadline exceeded)"
            )),
            (Outcome::Failed(m), _) => {
                lines.push(format!("Failed to get the status of endpoint {ep} ({m})"))
            }
            _ => {}
        }
    }
    let header = [
        "ENDPOINT",
        "ID",
        "VERSION",
        "DB SIZE",
        "IS LEADER",
        "IS LEARNER",
        "RAFT TERM",
        "RAFT INDEX",
        "RAFT APPLIED INDEX",
        "ERRORS",
    ];
    lines.extend(table(&header, &rows));
    lines
}

/// The endpoint a per-endpoint op was for (its client has exactly one endpoint).
fn status_endpoint(op: &HistoryOp) -> String {
    op.endpoints
        .first()
        .map_or_else(|| "?".into(), |n| n.endpoint())
}

fn status_row(ep: &str, s: &StatusInfo) -> Vec<String> {
    vec![
        ep.to_string(),
        s.member.member_hex(),
        s.version.into(),
        human_bytes(s.db_size_bytes),
        (s.leader == s.member.0).to_string(),
        s.is_learner.to_string(),
        s.raft_term.to_string(),
        s.raft_index.to_string(),
        s.raft_applied_index.to_string(),
        String::new(),
    ]
}

fn render_health(ops: &[&HistoryOp]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut unhealthy = false;
    for op in ops {
        let ep = status_endpoint(op);
        match &op.outcome {
            Outcome::Ok => {
                let took = op.completed.expect("done").since(op.invoked);
                lines.push(format!(
                    "{ep} is healthy: successfully committed proposal: took = {took}"
                ));
            }
            Outcome::Timeout => {
                unhealthy = true;
                lines.push(format!(
                    "{ep} is unhealthy: failed to commit proposal: context deadline exceeded"
                ));
            }
            Outcome::Failed(m) => {
                unhealthy = true;
                lines.push(format!("{ep} is unhealthy: failed to commit proposal: {m}"));
            }
            Outcome::Pending => {}
        }
    }
    if unhealthy {
        lines.push("Error: unhealthy cluster".into());
    }
    lines
}

/// etcd's humanize.Bytes (SI units).
pub fn human_bytes(b: u64) -> String {
    if b < 1000 {
        return format!("{b} B");
    }
    let units = ["kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if v < 10.0 {
        format!("{:.1} {}", v, units[i - 1])
    } else {
        format!("{:.0} {}", v, units[i - 1])
    }
}

/// An ASCII table laid out as etcdctl's `--write-out=table` (tablewriter): centred headers,
/// right-aligned cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    if rows.is_empty() {
        return vec![];
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let sep = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let head = format!(
        "|{}|",
        header
            .iter()
            .zip(&widths)
            .map(|(h, w)| {
                let pad = w - h.len();
                format!(
                    " {}{}{} ",
                    " ".repeat(pad / 2),
                    h,
                    " ".repeat(pad - pad / 2)
                )
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    let mut out = vec![sep.clone(), head, sep.clone()];
    for r in rows {
        out.push(format!(
            "|{}|",
            r.iter()
                .zip(&widths)
                .map(|(c, w)| format!(" {c:>w$} "))
                .collect::<Vec<_>>()
                .join("|")
        ));
    }
    out.push(sep);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizes_like_etcd() {
        assert_eq!(human_bytes(20_480), "20 kB");
        assert_eq!(human_bytes(2_500), "2.5 kB");
        assert_eq!(human_bytes(999), "999 B");
    }

    #[test]
    fn table_layout() {
        let t = table(&["A", "LONG HEADER"], &[vec!["x".into(), "1".into()]]);
        assert_eq!(
            t,
            vec![
                "+---+-------------+",
                "| A | LONG HEADER |",
                "+---+-------------+",
                "| x |           1 |",
                "+---+-------------+",
            ]
        );
    }
}
