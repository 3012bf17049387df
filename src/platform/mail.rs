//! Outgoing mail over SMTP (`[smtp]`): one message to several people, each sent on its own so one bad address
//! does not stop the rest. Without `smtp.url` there is no mailer and callers skip mail.

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::SmtpSettings;

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// One message: a plain-text body, and an HTML one if given.
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl Mailer {
    /// `None` when no SMTP server is configured.
    pub fn from_settings(settings: &SmtpSettings) -> anyhow::Result<Option<Self>> {
        let url = settings.url.expose_secret().trim();
        if url.is_empty() {
            return Ok(None);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("smtp.url must be smtps://…, smtp://…?tls=required or smtp://… (see config/default.toml)")?
            .build();
        let from = settings.from.parse().context("smtp.from must be an address, e.g. Bwenge <no-reply@school.org>")?;
        Ok(Some(Self { transport, from }))
    }

    /// Sends `mail` to each of `to` (name, address); returns how many were accepted. A refused address is logged.
    pub async fn send(&self, to: &[(String, String)], mail: &Mail) -> usize {
        let mut sent = 0;
        for (name, address) in to {
            match self.one(name, address, mail).await {
                Ok(()) => sent += 1,
                Err(err) => tracing::warn!(error = ?err, to = %address, subject = %mail.subject, "could not send mail"),
            }
        }
        sent
    }

    async fn one(&self, name: &str, address: &str, mail: &Mail) -> anyhow::Result<()> {
        let to = Mailbox::new(Some(name.to_owned()), address.parse().context("recipient address")?);
        let builder = Message::builder().from(self.from.clone()).to(to).subject(mail.subject.clone());
        let message = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.text.clone(), html.clone()))?,
            None => builder.body(mail.text.clone())?,
        };
        self.transport.send(message).await.context("SMTP")?;
        Ok(())
    }
}
