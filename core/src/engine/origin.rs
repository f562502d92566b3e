//! Where each policy of a snapshot came from (file, line, column).

use crate::error::Location;

/// Where a policy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOrigin {
    pub id: String,
    pub location: Location,
    pub baseline: bool,
}
