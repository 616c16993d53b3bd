//! A small SMTP client, enough to hand one alert e-mail to a submission server: EHLO,
//! STARTTLS (rustls with the system's roots, as the PostgreSQL connections use), AUTH
//! PLAIN or LOGIN, MAIL, RCPT, DATA, QUIT. A plain-text message, base64 when it is not
//! short ASCII lines, so no server needs 8BITMIME.
//!
//! Why not a mail crate: one short message per incident needs none of a full MIME
//! builder, and this keeps the build small. Every wait is bounded ([`STEP_TIMEOUT`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::config::SmtpConfig;
use super::deliver::Ended;

/// Longest wait for a connection or one reply.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One e-mail.
#[derive(Debug, Clone)]
pub struct Message {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the connection failed: {0}")]
    Io(String),
    #[error("the server answered {code} to {command}: {text}")]
    Reply {
        command: &'static str,
        code: u16,
        text: String,
    },
    #[error("the server does not offer STARTTLS")]
    NoStartTls,
    #[error("the server offers no AUTH PLAIN or LOGIN")]
    NoAuth,
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("the server's answer is not SMTP ({0:?})")]
    Garbled(String),
}

impl SmtpError {
    /// How the attempt ended, for the retry decision.
    pub fn ended(&self) -> Ended {
        match self {
            SmtpError::Connect(_) | SmtpError::Io(_) => Ended::Transport,
            SmtpError::Reply { code, .. } => Ended::SmtpReply(*code),
            _ => Ended::Setting,
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            SmtpError::Connect(_) | SmtpError::Io(_) => {
                "check host and port, and that the server is reachable from here".into()
            }
            SmtpError::Reply {
                command: "AUTH", ..
            } => "check the user name and password".into(),
            SmtpError::Reply {
                command: "RCPT TO",
                ..
            } => "check the addresses in to (the server refused one)".into(),
            SmtpError::Reply {
                command: "MAIL FROM",
                ..
            } => "check from: the server must accept mail from that address".into(),
            SmtpError::Reply { .. } => "check the server's settings for this sender".into(),
            SmtpError::NoStartTls => {
                "use the server's submission port (587), or set starttls = false only for a relay on a trusted network".into()
            }
            SmtpError::NoAuth => {
                "drop username and password if the server needs none, or use a port that offers authentication".into()
            }
            SmtpError::Tls(_) => {
                "check that host is the name on the server's certificate".into()
            }
            SmtpError::Garbled(_) => "check that host and port are an SMTP server".into(),
        }
    }
}

/// Sends `message` through the server `c` names.
pub async fn send(
    c: &SmtpConfig,
    credentials: Option<&(String, SecretString)>,
    message: &Message,
) -> Result<(), SmtpError> {
    let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect((c.host.as_str(), c.port)))
        .await
        .map_err(|_| SmtpError::Connect("timed out".into()))?
        .map_err(|e| SmtpError::Connect(e.to_string()))?;
    let helo = match tcp.local_addr() {
        Ok(a) if a.is_ipv6() => format!("[IPv6:{}]", a.ip()),
        Ok(a) => format!("[{}]", a.ip()),
        Err(_) => "localhost".into(),
    };
    let mut conn = Conn::new(tcp);
    conn.expect("greeting", 220).await?;
    let caps = conn.ehlo(&helo).await?;
    if !c.starttls {
        return conn.transact(&caps, credentials, message).await;
    }
    if !caps.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
        return Err(SmtpError::NoStartTls);
    }
    conn.command("STARTTLS", "STARTTLS", &[220]).await?;
    let tls = upgrade(&c.host, conn.reader.into_inner()).await?;
    let mut conn = Conn::new(tls);
    let caps = conn.ehlo(&helo).await?;
    conn.transact(&caps, credentials, message).await
}

async fn upgrade(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SmtpError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SmtpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| SmtpError::Tls(format!("{host:?} is not a server name: {e}")))?;
    tokio::time::timeout(
        STEP_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| SmtpError::Io("the TLS handshake timed out".into()))?
    .map_err(|e| SmtpError::Tls(e.to_string()))
}

struct Conn<S> {
    reader: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S) -> Self {
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Reads one reply (all its lines): its code and the text of each line.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(STEP_TIMEOUT, self.reader.read_line(&mut line))
                .await
                .map_err(|_| SmtpError::Io("no answer in time".into()))?
                .map_err(|e| SmtpError::Io(e.to_string()))?;
            if n == 0 {
                return Err(SmtpError::Io("the server closed the connection".into()));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Garbled(line.chars().take(80).collect()))?;
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    async fn expect(&mut self, command: &'static str, code: u16) -> Result<Vec<String>, SmtpError> {
        let (got, text) = self.reply().await?;
        if got != code {
            return Err(SmtpError::Reply {
                command,
                code: got,
                text: text.join(" "),
            });
        }
        Ok(text)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let stream = self.reader.get_mut();
        tokio::time::timeout(STEP_TIMEOUT, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| SmtpError::Io("the server stopped reading".into()))?
        .map_err(|e| SmtpError::Io(e.to_string()))
    }

    /// Sends `line` and expects one of `codes`; `command` names it in errors (the line may
    /// hold credentials).
    async fn command(
        &mut self,
        command: &'static str,
        line: &str,
        codes: &[u16],
    ) -> Result<Vec<String>, SmtpError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let (code, text) = self.reply().await?;
        if !codes.contains(&code) {
            return Err(SmtpError::Reply {
                command,
                code,
                text: text.join(" "),
            });
        }
        Ok(text)
    }

    /// EHLO; the extensions the server lists (first line is its greeting).
    async fn ehlo(&mut self, helo: &str) -> Result<Vec<String>, SmtpError> {
        let lines = self
            .command("EHLO", &format!("EHLO {helo}"), &[250])
            .await?;
        Ok(lines.into_iter().skip(1).collect())
    }

    async fn transact(
        &mut self,
        caps: &[String],
        credentials: Option<&(String, SecretString)>,
        message: &Message,
    ) -> Result<(), SmtpError> {
        if let Some((user, password)) = credentials {
            self.auth(caps, user, password).await?;
        }
        self.command(
            "MAIL FROM",
            &format!("MAIL FROM:<{}>", message.from),
            &[250],
        )
        .await?;
        for to in &message.to {
            self.command("RCPT TO", &format!("RCPT TO:<{to}>"), &[250, 251])
                .await?;
        }
        self.command("DATA", "DATA", &[354]).await?;
        self.write(&render(message)).await?;
        self.expect("DATA", 250).await?;
        // The message is accepted; a server that hangs up without answering QUIT is fine.
        let _ = self.command("QUIT", "QUIT", &[221]).await;
        Ok(())
    }

    async fn auth(
        &mut self,
        caps: &[String],
        user: &str,
        password: &SecretString,
    ) -> Result<(), SmtpError> {
        let mechanisms: Vec<String> = caps
            .iter()
            .filter_map(|l| {
                let upper = l.to_ascii_uppercase();
                upper
                    .strip_prefix("AUTH ")
                    .or_else(|| upper.strip_prefix("AUTH="))
                    .map(str::to_owned)
            })
            .flat_map(|m| m.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = b64(&format!("\0{user}\0{}", password.expose_secret()));
            self.command("AUTH", &format!("AUTH PLAIN {token}"), &[235])
                .await?;
        } else if mechanisms.iter().any(|m| m == "LOGIN") {
            self.command("AUTH", "AUTH LOGIN", &[334]).await?;
            self.command("AUTH", &b64(user), &[334]).await?;
            self.command("AUTH", &b64(password.expose_secret()), &[235])
                .await?;
        } else {
            return Err(SmtpError::NoAuth);
        }
        Ok(())
    }
}

/// The message as sent after DATA, ending with the lone dot.
fn render(m: &Message) -> Vec<u8> {
    use rand::RngCore;
    let mut id = [0u8; 12];
    rand::rng().fill_bytes(&mut id);
    let domain = m.from.rsplit('@').next().unwrap_or("localhost");
    let plain_lines =
        m.body.is_ascii() && m.body.lines().all(|l| l.len() <= 900) && !m.body.contains('\r');
    let mut out = String::new();
    out.push_str(&format!("From: <{}>\r\n", m.from));
    let to: Vec<String> = m.to.iter().map(|t| format!("<{t}>")).collect();
    out.push_str(&format!("To: {}\r\n", to.join(", ")));
    out.push_str(&format!("Subject: {}\r\n", subject(&m.subject)));
    out.push_str(&format!("Date: {}\r\n", chrono::Utc::now().to_rfc2822()));
    out.push_str(&format!("Message-ID: <{}@{domain}>\r\n", hex::encode(id)));
    out.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    if plain_lines {
        out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in m.body.lines() {
            // Dot-stuffing: a line starting with a dot gets one more, so no line of the
            // text can end the message early.
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
    } else {
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(m.body.as_bytes());
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push_str("\r\n");
        }
    }
    out.push_str(".\r\n");
    out.into_bytes()
}

/// A subject on one line, at most 180 characters, as RFC 2047 words when not ASCII.
fn subject(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .take(180)
        .collect();
    if one_line.is_ascii() {
        return one_line;
    }
    // Encoded words of at most 45 bytes of text each (75 characters encoded), split on
    // character boundaries, folded onto continuation lines.
    let mut words = Vec::new();
    let mut cur = String::new();
    for ch in one_line.chars() {
        if cur.len() + ch.len_utf8() > 45 {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_line_starting_with_a_dot_cannot_end_the_message() {
        let m = Message {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            subject: "s".into(),
            body: "one\n.\n..two\n".into(),
        };
        let text = String::from_utf8(render(&m)).unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body, "one\r\n..\r\n...two\r\n.\r\n");
    }

    #[test]
    fn a_non_ascii_subject_is_encoded_and_body_is_base64() {
        let m = Message {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            subject: "échec de la synchro\r\nBcc: x@evil.io".into(),
            body: "café".into(),
        };
        let text = String::from_utf8(render(&m)).unwrap();
        assert!(text.contains("Subject: =?utf-8?B?"), "{text}");
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\nY2Fmw6k=\r\n.\r\n"));
    }
}
