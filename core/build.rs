//! No build steps: this file exists so the core can declare the build-dependency
//! that unifies host-crate features across the workspace (see Cargo.toml).
fn main() {}
