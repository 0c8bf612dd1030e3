//! Who may do what: people, their sign-in, API tokens, and the audit trail of what they did.
pub mod api_tokens;
pub mod audit;
pub mod sign_in;
pub mod users;
