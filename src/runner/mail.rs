//! Run notifications through the configured SMTP relay (decision D12). Failures are reported
//! to the caller for the history; they never change a run's result.

use crate::config::MailConfig;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// Sends one plain-text message. `Ok` carries the outcome line for history.
pub fn send(cfg: &MailConfig, to: &str, subject: &str, body: &str) -> Result<String, String> {
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| format!("mail.from '{}': {e}", cfg.from))?;
    let to_box: Mailbox = to.parse().map_err(|e| format!("recipient '{to}': {e}"))?;
    let msg = Message::builder()
        .from(from)
        .to(to_box)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| format!("building the message: {e}"))?;
    let builder = match cfg.security.as_str() {
        "tls" => SmtpTransport::relay(&cfg.host),
        "starttls" => SmtpTransport::starttls_relay(&cfg.host),
        _ => Ok(SmtpTransport::builder_dangerous(cfg.host.as_str())),
    }
    .map_err(|e| format!("SMTP relay {}: {e}", cfg.host))?;
    let mut builder = builder
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(30)));
    if !cfg.credentials_file.is_empty() {
        let text = std::fs::read_to_string(&cfg.credentials_file)
            .map_err(|e| format!("mail.credentials_file: {e}"))?;
        let (user, pass) = text
            .trim_end_matches(['\n', '\r'])
            .split_once(':')
            .ok_or("mail.credentials_file must hold user:password")?;
        builder = builder.credentials(Credentials::new(user.into(), pass.into()));
    }
    builder
        .build()
        .send(&msg)
        .map(|_| format!("sent to {to}"))
        .map_err(|e| format!("sending to {to} via {}:{}: {e}", cfg.host, cfg.port))
}
