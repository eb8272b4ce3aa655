//! Run notifications through the configured SMTP relay (decision D12). Failures are reported
//! to the caller for the history; they never change a run's result.

use crate::config::MailConfig;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// Why a notification was not sent. The text goes into the run's history; every source stays
/// attached for the log.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.from '{addr}': {source}")]
    From {
        addr: String,
        source: lettre::address::AddressError,
    },
    #[error("recipient '{addr}': {source}")]
    To {
        addr: String,
        source: lettre::address::AddressError,
    },
    #[error("building the message: {0}")]
    Build(#[source] lettre::error::Error),
    #[error("SMTP relay {host}: {source}")]
    Relay {
        host: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("mail.credentials_file: {0}")]
    Credentials(#[source] std::io::Error),
    #[error("mail.credentials_file must hold user:password")]
    CredentialsFormat,
    #[error("sending to {to} via {host}:{port}: {source}")]
    Send {
        to: String,
        host: String,
        port: u16,
        source: lettre::transport::smtp::Error,
    },
}

/// Sends one plain-text message. `Ok` carries the outcome line for history.
pub fn send(cfg: &MailConfig, to: &str, subject: &str, body: &str) -> Result<String, MailError> {
    let from: Mailbox = cfg.from.parse().map_err(|source| MailError::From {
        addr: cfg.from.clone(),
        source,
    })?;
    let to_box: Mailbox = to.parse().map_err(|source| MailError::To {
        addr: to.to_string(),
        source,
    })?;
    let msg = Message::builder()
        .from(from)
        .to(to_box)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(MailError::Build)?;
    let builder = match cfg.security.as_str() {
        "tls" => SmtpTransport::relay(&cfg.host),
        "starttls" => SmtpTransport::starttls_relay(&cfg.host),
        _ => Ok(SmtpTransport::builder_dangerous(cfg.host.as_str())),
    }
    .map_err(|source| MailError::Relay {
        host: cfg.host.clone(),
        source,
    })?;
    let mut builder = builder
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(30)));
    if !cfg.credentials_file.is_empty() {
        let text =
            std::fs::read_to_string(&cfg.credentials_file).map_err(MailError::Credentials)?;
        let (user, pass) = text
            .trim_end_matches(['\n', '\r'])
            .split_once(':')
            .ok_or(MailError::CredentialsFormat)?;
        builder = builder.credentials(Credentials::new(user.into(), pass.into()));
    }
    builder
        .build()
        .send(&msg)
        .map(|_| format!("sent to {to}"))
        .map_err(|source| MailError::Send {
            to: to.to_string(),
            host: cfg.host.clone(),
            port: cfg.port,
            source,
        })
}
