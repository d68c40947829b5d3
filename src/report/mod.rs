//! Views of a run, all derived from its record: the text timeline, the Kubernetes availability
//! report and `kubectl get nodes`, the message-level view, and the counterfactual diff.

pub mod diff;
pub mod history_view;
pub mod kubernetes;
pub mod lessons;
pub mod messages;
pub mod picture;
pub mod seeds;
pub mod timeline;
pub mod why;
