//! Fault injection, deterministic by seed: rates or schedules of 500/502/503/504, 429
//! without headers, slow responses, connection resets and truncated bodies; settable at
//! start (`--faults`) and at runtime (admin API).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::Shared;

/// Which faults to inject and how often.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {}

impl FaultConfig {
    /// Parses the `--faults` spec.
    pub fn parse(spec: &str) -> Result<Self, String> {
        if spec.trim().is_empty() || spec == "none" {
            return Ok(Self::default());
        }
        Err(format!("fault spec {spec:?} not understood"))
    }
}

/// Decides, per request, whether to inject a fault.
#[derive(Debug)]
pub struct FaultInjector {}

impl FaultInjector {
    pub fn new(_config: FaultConfig) -> Self {
        Self {}
    }
}

pub async fn middleware(State(_st): State<Shared>, req: Request, next: Next) -> Response {
    next.run(req).await
}
