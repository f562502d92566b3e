//! agentauthz python binding (thin adapter over agentauthz::ffi).
