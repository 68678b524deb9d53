//! The roles a bearer token has (DESIGN §6), below the reports and the
//! HTTP service: each report says what a role may ask of it.

use serde::Deserialize;

/// What a token may do (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// SQL over everything, and every report.
    Compliance,
    /// Reports only, never per user, k-anonymous.
    Leadership,
}

impl Role {
    /// The role's name in configuration and in the access log.
    pub fn name(self) -> &'static str {
        match self {
            Role::Compliance => "compliance",
            Role::Leadership => "leadership",
        }
    }
}
