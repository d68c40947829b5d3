//! Views of a run, all derived from its record: the text timeline, the Kubernetes availability
//! report and `kubectl get nodes`, and the counterfactual diff.

pub mod diff;
pub mod kubernetes;
pub mod seeds;
pub mod timeline;
