//! agentauthz wasm binding (thin adapter over agentauthz::ffi).
