//! The OAuth 2.0 authorization-code flow with PKCE (S256), token refresh and revocation, with
//! the oauth2 crate, for the providers whose endpoints are configuration. No database: the
//! caller keeps the state and verifier (in the session) and stores the tokens.
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};

use super::{ErrorKind, ProviderError};
use crate::secret::Secret;

/// One provider's OAuth client: where it is and who calsync is there.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// How the provider is named in messages ("Google Calendar").
    pub provider: &'static str,
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    /// Extra authorization parameters (Google: offline access with a consent prompt).
    pub extra: Vec<(&'static str, &'static str)>,
}

/// Where to send the user, and what to keep in their session until they come back.
pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

/// Tokens from an exchange or a refresh.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    /// `None` when the provider kept the old one (Google's refresh).
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<Duration>,
}

/// No redirects: a token endpoint that redirects is misconfigured, not to be followed.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(timeout).build().unwrap_or_default()
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, format!("The OAuth {what} is not a valid URL ({e}). Check the server's configuration."))
}

impl OAuthClient {
    /// The revoked-access message the calendar shows until it is reconnected.
    pub fn revoked_message(&self) -> String {
        format!("Access to {} was revoked (invalid_grant). Reconnect to resume syncing.", self.provider)
    }

    pub fn start(&self, redirect: &str) -> Result<Started, ProviderError> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::new(self.auth_url.clone()).map_err(|e| invalid("authorization URL", e))?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| invalid("redirect URL", e))?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (k, v) in &self.extra {
            request = request.add_extra_param(*k, *v);
        }
        let (url, state) = request.url();
        Ok(Started { url: url.to_string(), state: state.secret().clone(), verifier: verifier.secret().clone() })
    }

    pub async fn exchange(&self, http: &reqwest::Client, redirect: &str, code: &str, verifier: &str) -> Result<Tokens, ProviderError> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(|e| invalid("token URL", e))?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| invalid("redirect URL", e))?);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(http)
            .await;
        self.tokens(answer)
    }

    pub async fn refresh(&self, http: &reqwest::Client, refresh_token: &Secret) -> Result<Tokens, ProviderError> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(|e| invalid("token URL", e))?);
        let answer = client.exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned())).request_async(http).await;
        self.tokens(answer)
    }

    /// Revokes the grant where the provider offers it (RFC 7009, as Google's revoke endpoint
    /// takes it: a form with `token`); `Ok` when there is nothing to call. Written by hand: the
    /// oauth2 crate insists on https here, and the sandbox is plain http on loopback.
    pub async fn revoke(&self, http: &reqwest::Client, refresh_token: &Secret) -> Result<(), ProviderError> {
        let Some(url) = &self.revoke_url else { return Ok(()) };
        let failed = |why: String| ProviderError::new(ErrorKind::Server, format!("{} did not confirm the revocation ({why}).", self.provider));
        let answer =
            http.post(url).form(&[("token", refresh_token.expose()), ("token_type_hint", "refresh_token")]).send().await.map_err(|e| failed(e.to_string()))?;
        match answer.status().as_u16() {
            200..=299 => Ok(()),
            // Already revoked or expired: nothing left to revoke.
            400 => Ok(()),
            s => Err(failed(format!("HTTP {s}"))),
        }
    }

    fn tokens<T: TokenResponse>(
        &self,
        answer: Result<T, RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::StandardErrorResponse<BasicErrorResponseType>>>,
    ) -> Result<Tokens, ProviderError> {
        match answer {
            Ok(t) => Ok(Tokens {
                access_token: Secret::new(t.access_token().secret()),
                refresh_token: t.refresh_token().map(|r| Secret::new(r.secret())),
                expires_in: t.expires_in(),
            }),
            Err(RequestTokenError::ServerResponse(e)) if *e.error() == BasicErrorResponseType::InvalidGrant => {
                Err(ProviderError::new(ErrorKind::Unauthorized, self.revoked_message()))
            }
            Err(RequestTokenError::ServerResponse(e)) => Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} refused calsync's sign-in ({}). Check the OAuth client settings.", self.provider, e.error()),
            )),
            Err(RequestTokenError::Request(e)) => {
                Err(ProviderError::new(ErrorKind::Server, format!("Could not reach {}'s sign-in service ({e}). Try again.", self.provider)))
            }
            Err(RequestTokenError::Parse(e, _)) => {
                Err(ProviderError::new(ErrorKind::Malformed, format!("{}'s sign-in service answered something unreadable ({e}).", self.provider)))
            }
            Err(RequestTokenError::Other(e)) => Err(ProviderError::new(ErrorKind::Malformed, format!("{}'s sign-in service failed ({e}).", self.provider))),
        }
    }
}
