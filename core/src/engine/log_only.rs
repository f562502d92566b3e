//! Log-only enforcement: per engine (`[engine] mode = "log-only"`) and per
//! policy (`@mode("log-only")`, compiled into a set of their own, evaluated
//! beside the enforced set and never enforced).

use super::decide::Outcome;
use super::origin::PolicyOrigin;
use crate::bundle::{Config, Mode};
use crate::error::{Error, ErrorCode, Result};
use cedar_policy::{Authorizer, Entities, PolicySet};
use std::collections::BTreeMap;

/// The annotation that sets a policy's enforcement mode.
pub const MODE_ANNOTATION: &str = "mode";

/// The engine mode and the log-only policies of a snapshot.
#[derive(Debug, Default, Clone)]
pub(crate) struct LogOnly {
    pub mode: Mode,
    /// `@mode("log-only")` policies, evaluated beside the enforced set.
    pub policies: Option<PolicySet>,
}

impl LogOnly {
    /// Moves the `@mode("log-only")` policies out of `policies` into their
    /// own set, and reads the engine mode.
    pub fn compile(
        config: &Config,
        policies: &mut PolicySet,
        origins: &BTreeMap<String, PolicyOrigin>,
    ) -> Result<LogOnly> {
        let mut log_only = Vec::new();
        for p in policies.policies() {
            let Some(mode) = super::annotations::annotation(p, MODE_ANNOTATION) else {
                continue;
            };
            match Mode::parse(mode) {
                Some(Mode::LogOnly) => log_only.push(p.id().clone()),
                Some(Mode::Enforce) => {}
                None => {
                    let id = p.id().to_string();
                    let message = format!(
                        "policy `{id}`: @mode(\"{mode}\") is not a mode; use \"enforce\" or \"log-only\""
                    );
                    return Err(match origins.get(&id) {
                        Some(o) => Error::at(ErrorCode::PolicyInvalid, o.location.clone(), message),
                        None => Error::new(ErrorCode::PolicyInvalid, message),
                    });
                }
            }
        }
        let set = if log_only.is_empty() {
            None
        } else {
            let mut set = PolicySet::new();
            for id in log_only {
                let p = policies
                    .remove_static(id)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
                set.add(p)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            }
            Some(set)
        };
        Ok(LogOnly {
            mode: config.engine.mode,
            policies: set,
        })
    }

    /// Evaluates the log-only policies alone (`None` when there are none).
    pub fn evaluate(
        &self,
        request: &cedar_policy::Request,
        entities: &Entities,
    ) -> Option<Outcome> {
        let set = self.policies.as_ref()?;
        let response = Authorizer::new().is_authorized(request, set, entities);
        Some(Outcome::from_response(&response))
    }
}
