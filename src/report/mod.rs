//! Views of a run: the text timeline, etcdctl-style outputs, JSON.

pub mod diff;
pub mod etcdctl;
pub mod kubernetes;
pub mod timeline;
