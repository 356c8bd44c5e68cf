//! Why a token was refused. Each variant has a stable word for the error log; the
//! message never contains the token itself.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed(String),
    AlgNotAllowed(String),
    /// The token names a key the set does not have: refresh the set, then try once more.
    UnknownKid(String),
    NoKey(String),
    BadSignature(String),
    WrongIssuer { expected: String, found: String },
    WrongAudience(String),
    WrongAzp(String),
    Expired { exp: u64, now: u64 },
    NotYetValid { nbf: u64, now: u64 },
    IssuedInFuture { iat: u64, now: u64 },
    MissingClaim(&'static str),
    NonceMismatch,
    AtHashMismatch,
    WrongType(String),
    /// `issuer_template`: the token's tenant (`tid`) does not fit or is not allowed.
    Tenant(crate::tenant::TenantError),
}

impl TokenError {
    /// The stable word for logs, prefixed by what kind of token it was.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "malformed",
            TokenError::AlgNotAllowed(_) => "alg_not_allowed",
            TokenError::UnknownKid(_) => "unknown_kid",
            TokenError::NoKey(_) => "no_key",
            TokenError::BadSignature(_) => "bad_signature",
            TokenError::WrongIssuer { .. } => "wrong_issuer",
            TokenError::WrongAudience(_) => "wrong_audience",
            TokenError::WrongAzp(_) => "wrong_azp",
            TokenError::Expired { .. } => "expired",
            TokenError::NotYetValid { .. } => "not_yet_valid",
            TokenError::IssuedInFuture { .. } => "issued_in_future",
            TokenError::MissingClaim(_) => "missing_claim",
            TokenError::NonceMismatch => "nonce_mismatch",
            TokenError::AtHashMismatch => "at_hash_mismatch",
            TokenError::WrongType(_) => "wrong_type",
            TokenError::Tenant(e) => e.reason(),
        }
    }

    /// The log reason: the kind of token and the check (`id_token_expired`,
    /// `bearer_wrong_audience`), except `tenant_not_allowed`, which is about the tenant,
    /// not the token, and keeps one word whatever token carried it.
    pub fn log_reason(&self, kind: &str) -> String {
        match self {
            TokenError::Tenant(crate::tenant::TenantError::NotAllowed(_)) => "tenant_not_allowed".into(),
            _ => format!("{kind}_{}", self.reason()),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(e) => write!(f, "{e}"),
            TokenError::AlgNotAllowed(a) => write!(f, "signature algorithm \"{a}\" is not allowed"),
            TokenError::UnknownKid(k) => write!(f, "no key \"{k}\" in the OP's key set"),
            TokenError::NoKey(e) => write!(f, "no key to verify it: {e}"),
            TokenError::BadSignature(e) => write!(f, "{e}"),
            TokenError::WrongIssuer { expected, found } => write!(f, "issuer \"{found}\" is not \"{expected}\""),
            TokenError::WrongAudience(e) => write!(f, "{e}"),
            TokenError::WrongAzp(e) => write!(f, "{e}"),
            TokenError::Expired { exp, now } => write!(f, "expired at {exp} (now {now})"),
            TokenError::NotYetValid { nbf, now } => write!(f, "not valid before {nbf} (now {now})"),
            TokenError::IssuedInFuture { iat, now } => write!(f, "issued in the future at {iat} (now {now})"),
            TokenError::MissingClaim(c) => write!(f, "the \"{c}\" claim is missing or invalid"),
            TokenError::NonceMismatch => f.write_str("the nonce is not the one sent with the authorization request"),
            TokenError::AtHashMismatch => f.write_str("at_hash does not match the access token"),
            TokenError::WrongType(t) => write!(f, "token type \"{t}\" is not accepted"),
            TokenError::Tenant(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TokenError {}
