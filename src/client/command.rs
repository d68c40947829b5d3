//! The etcdctl-like command language used in scenario files (`put hello world`).
//!
//! Grammar (words separated by spaces; no quoting):
//! - `put KEY VALUE`
//! - `get KEY [--consistency=l|s]` (linearizable by default, as etcdctl)
//! - `del KEY`
//! - `txn KEY (--if-value=V | --if-mod-rev=N) --then-put=V` (a compare-and-swap Txn)
//! - `endpoint status`, `endpoint health`
//!
//! `{i}` anywhere in a command is replaced by the repetition number (1, 2, ...).

use crate::node::kv::{Compare, KvOp};
use crate::node::rpc::ServerOp;
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
}

/// A parse error with the byte offset of the offending word inside the command text.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandError {
    /// Byte offset of the offending word.
    pub offset: usize,
    /// What is wrong, with the allowed forms.
    pub message: String,
}

const USAGE: &str = "allowed commands: `put KEY VALUE`, `get KEY [--consistency=l|s]`, `del KEY`, \
`txn KEY --if-value=V|--if-mod-rev=N --then-put=V`, `endpoint status`, `endpoint health`";

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
        "put" => {
            arity(3, "put KEY VALUE")?;
            Ok(write(KvOp::Put {
                key: w(1),
                value: w(2),
            }))
        }
        "del" => {
            arity(2, "del KEY")?;
            Ok(write(KvOp::Delete { key: w(1) }))
        }
        "get" => {
            if words.len() < 2 || words.len() > 3 {
                return Err(err(
                    words.len().min(2),
                    "expected `get KEY [--consistency=l|s]`".into(),
                ));
            }
            let serializable = match words.get(2).map(|x| x.1) {
                None | Some("--consistency=l") => false,
                Some("--consistency=s") => true,
                Some(other) => {
                    return Err(err(
                        2,
                        format!(
                            "unknown flag `{other}`; allowed: --consistency=l, --consistency=s"
                        ),
                    ))
                }
            };
            Ok(Command::Kv {
                op: ServerOp::Get {
                    key: w(1),
                    serializable,
                },
            })
        }
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
        op: ServerOp::Write { op },
    }
}

fn parse_txn(
    words: &[(usize, &str)],
    err: &dyn Fn(usize, String) -> CommandError,
) -> Result<Command, CommandError> {
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
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert!(matches!(
            parse("put hello world"),
            Ok(Command::Kv {
                op: ServerOp::Write {
                    op: KvOp::Put { .. }
                }
            })
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
            Ok(Command::Kv {
                op: ServerOp::Write {
                    op: KvOp::Txn {
                        compare: Compare::ModRevision(0),
                        ..
                    }
                }
            })
        ));
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
