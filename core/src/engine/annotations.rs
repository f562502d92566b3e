//! Reading a policy's annotations.

/// A policy's annotation by key. Cedar's `Policy::annotation` runs its
/// policy parser on the key at every call (~54,000 instructions; a second
/// of a 10,000-policy load); for identifier keys the string compare is the same.
pub(crate) fn annotation<'p>(policy: &'p cedar_policy::Policy, key: &str) -> Option<&'p str> {
    policy
        .annotations()
        .find_map(|(k, v)| (k == key).then_some(v))
}
