//! agentauthz node binding (thin adapter over agentauthz::ffi).
