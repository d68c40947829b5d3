//! The etcdctl-like command language used in scenario files (`put hello world`).
//!
//! Grammar (words separated by spaces; no quoting):
//! - `put KEY VALUE`
//! - `get KEY [--consistency=l|s]` (linearizable by default, as etcdctl)
//! - `del KEY`
//! - `txn KEY (--if-value=V | --if-mod-rev=N) --then-put=V` (a compare-and-swap Txn)
//! - `endpoint status`, `endpoint health`
//! - `put KEY VALUE --lease=NAME`: attach the key to the lease granted by command `NAME`
//! - `lease grant TTL`: the lease is named by the granting command's `id`
//! - `lease revoke NAME`, `lease timetolive NAME`, `lease keep-alive NAME [--once]`
//! - `watch KEY [--prefix] [--rev=N]`: a stream of the key's PUT and DELETE events
//! - `lock NAME [--ttl=N]`: etcdctl's lock: a session lease kept alive, and the lock key held
//!   while the lease lives
//! - `member add MEMBER [--learner]`, `member remove MEMBER`, `member promote MEMBER`,
//!   `member list`: etcd's Cluster service; a member is named `etcd-N` (etcdctl takes the hex
//!   ID `member list` prints; the peer URLs `member add` needs are implied by the name)
//!
//! `{i}` anywhere in a command is replaced by the repetition number (1, 2, ...). Leases are named
//! by the `id` of the command that grants them; etcd lets a client choose a lease's ID, and
//! raftsim's clients derive it from that name ([`LeaseId::named`]).

use crate::node::kv::{Compare, KvOp};
use crate::node::rpc::{MemberOp, ServerOp};
use crate::sim::ids::LeaseId;
use crate::sim::ids::NodeId;
use serde::Serialize;

/// A parsed etcdctl command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// `put`, `get`, `del` or `txn`: one key-value operation.
    Kv {
        /// The operation.
        op: ServerOp,
    },
    /// `endpoint status`: a Status RPC to each endpoint.
    EndpointStatus,
    /// `endpoint health`: a linearizable read of `health` on each endpoint.
    EndpointHealth,
    /// `lease grant TTL`: grants the lease named by this command's id.
    LeaseGrant {
        /// The TTL asked for, in seconds.
        ttl_s: u64,
    },
    /// `lease keep-alive NAME`: keeps the lease alive until it ends (a long-lived stream);
    /// with `--once`, one renewal.
    LeaseKeepAlive {
        /// The name of the granting command.
        lease: String,
        /// One renewal only.
        once: bool,
    },
    /// `watch KEY [--prefix] [--rev=N]`: prints every PUT and DELETE as its member applies it.
    Watch {
        /// The key, or the prefix.
        key: String,
        /// Watch the prefix.
        prefix: bool,
        /// The first revision (0: from now).
        start_revision: u64,
    },
    /// `member add|remove|promote|list`: one request of etcd's Cluster service.
    Member {
        /// The change (or the list).
        change: MemberOp,
    },
    /// `lock NAME [--ttl=N]`: acquires the lock `NAME` with a session lease of `ttl_s`, and
    /// holds it while the lease lives.
    Lock {
        /// The lock's key.
        name: String,
        /// The session lease's TTL in seconds (etcdctl's default: 60).
        ttl_s: u64,
    },
}

impl Command {
    /// The leases this command uses but does not grant (each must be granted by a command).
    pub fn leases(&self) -> Vec<LeaseId> {
        match self {
            Command::LeaseKeepAlive { lease, .. } => vec![LeaseId::named(lease)],
            Command::Kv {
                op: ServerOp::LeaseTimeToLive { id } | ServerOp::LeaseKeepAlive { id },
            } => vec![*id],
            Command::Kv {
                op: ServerOp::Write { op },
            } => match &**op {
                KvOp::LeaseRevoke { id } => vec![*id],
                op => op.lease().into_iter().collect(),
            },
            _ => vec![],
        }
    }

    /// Whether it is a long-lived stream (keep-alive, watch, lock) rather than one request.
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Command::LeaseKeepAlive { once: false, .. }
                | Command::Watch { .. }
                | Command::Lock { .. }
        )
    }

    /// Whether it opens a watch (members then keep their event history).
    pub fn watches(&self) -> bool {
        matches!(self, Command::Watch { .. })
    }
}

/// A parse error with the byte offset of the offending word inside the command text.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandError {
    /// Byte offset of the offending word.
    pub offset: usize,
    /// What is wrong, with the allowed forms.
    pub message: String,
}

const USAGE: &str = "allowed commands: `put KEY VALUE [--lease=NAME]`, `get KEY [--consistency=l|s]`, \
`del KEY`, `txn KEY --if-value=V|--if-mod-rev=N --then-put=V`, `endpoint status`, `endpoint health`, \
`lease grant TTL`, `lease revoke NAME`, `lease timetolive NAME`, `lease keep-alive NAME [--once]`, \
`watch KEY [--prefix] [--rev=N]`, `lock NAME [--ttl=N]`, `member add etcd-N [--learner]`, \
`member remove etcd-N`, `member promote etcd-N`, `member list`";

/// Parses an etcdctl command line (without `etcdctl` and flags before the verb).
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let words: Vec<(usize, &str)> = text
        .split(' ')
        .scan(0usize, |pos, w| {
            let start = *pos;
            *pos += w.len() + 1;
            Some((start, w))
        })
        .filter(|(_, w)| !w.is_empty())
        .collect();
    let err = |i: usize, m: String| CommandError {
        offset: words.get(i).map_or(text.len(), |w| w.0),
        message: m,
    };
    let arity = |n: usize, usage: &str| -> Result<(), CommandError> {
        if words.len() == n {
            Ok(())
        } else {
            Err(err(words.len().min(n), format!("expected `{usage}`")))
        }
    };
    let Some(&(_, verb)) = words.first() else {
        return Err(err(0, format!("empty command; {USAGE}")));
    };
    let w = |i: usize| words[i].1.to_string();
    match verb {
        "put" => parse_put(&words, &err),
        "lease" => parse_lease(&words, &err),
        "watch" => parse_watch(&words, &err),
        "lock" => parse_lock(&words, &err),
        "member" => parse_member(&words, &err),
        "del" => {
            arity(2, "del KEY")?;
            Ok(write(KvOp::Delete { key: w(1) }))
        }
        "get" => parse_get(&words, &err),
        "txn" => parse_txn(&words, &err),
        "endpoint" => match words.get(1).map(|x| x.1) {
            Some("status") if words.len() == 2 => Ok(Command::EndpointStatus),
            Some("health") if words.len() == 2 => Ok(Command::EndpointHealth),
            _ => Err(err(
                1,
                "expected `endpoint status` or `endpoint health`".into(),
            )),
        },
        other => Err(err(0, format!("unknown command `{other}`; {USAGE}"))),
    }
}

fn write(op: KvOp) -> Command {
    Command::Kv {
        op: ServerOp::write(op),
    }
}

type ErrAt<'a> = &'a dyn Fn(usize, String) -> CommandError;

fn parse_put(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "put KEY VALUE [--lease=NAME]";
    let lease = match words.len() {
        3 => None,
        4 => {
            let name = words[3]
                .1
                .strip_prefix("--lease=")
                .filter(|n| !n.is_empty());
            Some(LeaseId::named(
                name.ok_or_else(|| err(3, format!("expected `{usage}`")))?,
            ))
        }
        n => return Err(err(n.min(3), format!("expected `{usage}`"))),
    };
    let (key, value) = (words[1].1.to_string(), words[2].1.to_string());
    Ok(write(KvOp::Put { key, value, lease }))
}

fn parse_get(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    if words.len() < 2 || words.len() > 3 {
        let usage = "expected `get KEY [--consistency=l|s]`";
        return Err(err(words.len().min(2), usage.into()));
    }
    let serializable = match words.get(2).map(|x| x.1) {
        None | Some("--consistency=l") => false,
        Some("--consistency=s") => true,
        Some(other) => {
            let allowed = "allowed: --consistency=l, --consistency=s";
            return Err(err(2, format!("unknown flag `{other}`; {allowed}")));
        }
    };
    let key = words[1].1.into();
    Ok(Command::Kv {
        op: ServerOp::Get { key, serializable },
    })
}

fn parse_lease(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "`lease grant TTL`, `lease revoke NAME`, `lease timetolive NAME` or \
`lease keep-alive NAME [--once]`";
    let sub = words.get(1).map(|x| x.1);
    let name = || words[2].1.to_string();
    match (sub, words.len()) {
        (Some("grant"), 3) => {
            let ttl_s = words[2]
                .1
                .parse()
                .ok()
                .filter(|t| (1..=9_000_000_000).contains(t));
            let ttl_s = ttl_s.ok_or_else(|| {
                err(
                    2,
                    format!("`{}` is not a TTL in whole seconds (1 or more)", words[2].1),
                )
            })?;
            Ok(Command::LeaseGrant { ttl_s })
        }
        (Some("revoke"), 3) => Ok(write(KvOp::LeaseRevoke {
            id: LeaseId::named(&name()),
        })),
        (Some("timetolive"), 3) => Ok(Command::Kv {
            op: ServerOp::LeaseTimeToLive {
                id: LeaseId::named(&name()),
            },
        }),
        (Some("keep-alive"), 3) => Ok(Command::LeaseKeepAlive {
            lease: name(),
            once: false,
        }),
        (Some("keep-alive"), 4) if words[3].1 == "--once" => Ok(Command::LeaseKeepAlive {
            lease: name(),
            once: true,
        }),
        (Some("keep-alive"), 4) => Err(err(
            3,
            format!("unknown flag `{}`; allowed: --once", words[3].1),
        )),
        _ => Err(err(1.min(words.len()), format!("expected {usage}"))),
    }
}

fn parse_watch(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "watch KEY [--prefix] [--rev=N]";
    let Some(&(_, key)) = words.get(1) else {
        return Err(err(1, format!("expected `{usage}`")));
    };
    let (mut prefix, mut start_revision) = (false, 0);
    for (i, &(_, flag)) in words.iter().enumerate().skip(2) {
        if flag == "--prefix" {
            prefix = true;
        } else if let Some(n) = flag.strip_prefix("--rev=") {
            start_revision = n
                .parse()
                .map_err(|_| err(i, format!("`{n}` is not a revision (a whole number >= 0)")))?;
        } else {
            return Err(err(
                i,
                format!("unknown flag `{flag}`; allowed: --prefix, --rev=N"),
            ));
        }
    }
    Ok(Command::Watch {
        key: key.into(),
        prefix,
        start_revision,
    })
}

fn parse_lock(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "lock NAME [--ttl=N]";
    let Some(&(_, name)) = words.get(1) else {
        return Err(err(1, format!("expected `{usage}`")));
    };
    let ttl_s = match words.get(2).map(|x| x.1) {
        None => 60, // etcdctl lock's --ttl default
        Some(f) => f
            .strip_prefix("--ttl=")
            .and_then(|n| n.parse().ok())
            .filter(|t| *t >= 1)
            .ok_or_else(|| {
                err(
                    2,
                    format!("expected --ttl=N (whole seconds, 1 or more); `{usage}`"),
                )
            })?,
    };
    if words.len() > 3 {
        return Err(err(3, format!("expected `{usage}`")));
    }
    Ok(Command::Lock {
        name: name.into(),
        ttl_s,
    })
}

fn parse_member(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "`member add etcd-N [--learner]`, `member remove etcd-N`, \
`member promote etcd-N` or `member list`";
    let sub = words.get(1).map(|x| x.1);
    if sub == Some("list") {
        return match words.len() {
            2 => Ok(Command::Member {
                change: MemberOp::List,
            }),
            _ => Err(err(2, "expected `member list`".into())),
        };
    }
    let member = || -> Result<NodeId, CommandError> {
        let name = words[2].1;
        let n = name
            .strip_prefix("etcd-")
            .and_then(|n| n.parse::<u64>().ok());
        n.filter(|n| *n >= 1).map(NodeId).ok_or_else(|| {
            err(
                2,
                format!("`{name}` is not a member name: members are named etcd-1, etcd-2, ..."),
            )
        })
    };
    let change = match (sub, words.len()) {
        (Some("add"), 3) => MemberOp::Add {
            member: member()?,
            learner: false,
        },
        (Some("add"), 4) if words[3].1 == "--learner" => MemberOp::Add {
            member: member()?,
            learner: true,
        },
        (Some("add"), 4) => {
            let flag = words[3].1;
            return Err(err(3, format!("unknown flag `{flag}`; allowed: --learner")));
        }
        (Some("remove"), 3) => MemberOp::Remove { member: member()? },
        (Some("promote"), 3) => MemberOp::Promote { member: member()? },
        _ => return Err(err(1.min(words.len()), format!("expected {usage}"))),
    };
    Ok(Command::Member { change })
}

fn parse_txn(words: &[(usize, &str)], err: ErrAt) -> Result<Command, CommandError> {
    let usage = "txn KEY --if-value=V|--if-mod-rev=N --then-put=V";
    if words.len() != 4 {
        return Err(err(words.len().min(4), format!("expected `{usage}`")));
    }
    let compare = if let Some(v) = words[2].1.strip_prefix("--if-value=") {
        Compare::Value(v.to_string())
    } else if let Some(n) = words[2].1.strip_prefix("--if-mod-rev=") {
        Compare::ModRevision(
            n.parse()
                .map_err(|_| err(2, format!("`{n}` is not a revision (a whole number >= 0)")))?,
        )
    } else {
        return Err(err(
            2,
            format!("expected --if-value=V or --if-mod-rev=N; `{usage}`"),
        ));
    };
    let then_put = words[3]
        .1
        .strip_prefix("--then-put=")
        .ok_or_else(|| err(3, format!("expected --then-put=V; `{usage}`")))?;
    Ok(write(KvOp::Txn {
        key: words[1].1.to_string(),
        compare,
        then_put: then_put.to_string(),
        lease: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert!(matches!(
            parse("put hello world"),
            Ok(Command::Kv { op }) if matches!(op.write_op(), Some(KvOp::Put { .. }))
        ));
        assert_eq!(
            parse("get hello --consistency=s"),
            Ok(Command::Kv {
                op: ServerOp::Get {
                    key: "hello".into(),
                    serializable: true
                }
            })
        );
        assert_eq!(parse("endpoint status"), Ok(Command::EndpointStatus));
        assert!(matches!(
            parse("txn k --if-mod-rev=0 --then-put=v"),
            Ok(Command::Kv { op }) if matches!(
                op.write_op(),
                Some(KvOp::Txn {
                    compare: Compare::ModRevision(0),
                    ..
                })
            )
        ));
    }

    #[test]
    fn parses_leases_watches_and_locks() {
        assert_eq!(
            parse("lease grant 10"),
            Ok(Command::LeaseGrant { ttl_s: 10 })
        );
        assert_eq!(
            parse("lease keep-alive grant-1 --once"),
            Ok(Command::LeaseKeepAlive {
                lease: "grant-1".into(),
                once: true
            })
        );
        assert_eq!(
            parse("put k v --lease=grant-1"),
            Ok(write(KvOp::Put {
                key: "k".into(),
                value: "v".into(),
                lease: Some(LeaseId::named("grant-1"))
            }))
        );
        assert_eq!(
            parse("watch svc/ --prefix --rev=3"),
            Ok(Command::Watch {
                key: "svc/".into(),
                prefix: true,
                start_revision: 3
            })
        );
        assert_eq!(
            parse("lock leader --ttl=10"),
            Ok(Command::Lock {
                name: "leader".into(),
                ttl_s: 10
            })
        );
        assert_eq!(parse("lease grant ten").unwrap_err().offset, 12);
        assert_eq!(parse("watch k --follow").unwrap_err().offset, 8);
        assert_eq!(
            parse("member add etcd-4 --learner"),
            Ok(Command::Member {
                change: MemberOp::Add {
                    member: NodeId(4),
                    learner: true
                }
            })
        );
        assert_eq!(parse("member remove node3").unwrap_err().offset, 14);
        assert_eq!(parse("member add etcd-4 --voter").unwrap_err().offset, 18);
        assert!(parse("lease renew x")
            .unwrap_err()
            .message
            .contains("keep-alive"));
    }

    #[test]
    fn errors_point_at_the_word() {
        let e = parse("put hello").unwrap_err();
        assert_eq!(e.offset, 9);
        let e = parse("get hello --consistency=x").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(e.message.contains("allowed"));
        let e = parse("frobnicate x").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("allowed commands"));
    }
}
