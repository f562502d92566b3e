//! Records to a syslog collector: RFC 5424 messages over TCP with
//! octet-counting framing (RFC 6587 §3.4.1), one connection per batch.
//!
//! TCP syslog has no acknowledgement. The transport closes its side after
//! the batch and waits for the collector to close its own: a collector
//! closes a connection only once it has read everything before the close
//! (unread bytes make the kernel answer with a reset instead), so an orderly
//! close means the collector holds the whole batch. A reset, a timeout or
//! any failure to connect or write is a failed delivery, retried from the
//! spool; the collector may then see a record twice (dedup by `seq` or
//! `decision_id`, both in the structured data).

use super::record::RecordDecision;
use super::spool::{Outgoing, Transport};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Structured-data id of the record's key fields (32473 is the private
/// enterprise number RFC 5612 reserves for examples and documentation).
const SD_ID: &str = "agentauthz@32473";
/// Bytes a collector may send back on a connection before we give up on it.
const MAX_REPLY: usize = 64 * 1024;

/// Settings of the syslog transport.
#[derive(Debug, Clone)]
pub struct SyslogOptions {
    /// `host:port` of the collector.
    pub address: String,
    pub app_name: String,
    /// Facility number 0..=23 (13: log audit).
    pub facility: u8,
    /// Bound on connecting, writing, and waiting for the collector's close.
    pub timeout: Duration,
}

impl SyslogOptions {
    pub fn new(address: impl Into<String>) -> SyslogOptions {
        SyslogOptions {
            address: address.into(),
            app_name: "agentauthz".into(),
            facility: 13,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The RFC 5424 syslog transport.
#[derive(Debug)]
pub struct Syslog {
    options: SyslogOptions,
    hostname: String,
    procid: String,
    frames: Vec<u8>,
}

impl Syslog {
    pub fn new(mut options: SyslogOptions) -> Syslog {
        options.facility = options.facility.min(23);
        options.app_name = header_field(&options.app_name, 48);
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| header_field(h.trim(), 255))
            .unwrap_or_else(|_| "-".into());
        Syslog {
            options,
            hostname,
            procid: std::process::id().to_string(),
            frames: Vec::new(),
        }
    }

    /// One framed message: `LEN SP <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`.
    fn frame(&self, o: &Outgoing, out: &mut Vec<u8>) {
        let r = &o.record;
        let severity = match r.decision {
            RecordDecision::Allow => 6, // informational
            RecordDecision::Deny | RecordDecision::NeedsApproval => 5, // notice
            RecordDecision::Error => 4, // warning
        };
        let pri = u32::from(self.options.facility) * 8 + severity;
        let mut msg = format!(
            "<{pri}>1 {} {} {} {} decision [{SD_ID} seq=\"{}\" decision_id=\"{}\" decision=\"{}\"] ",
            header_field(&r.timestamp, 64),
            self.hostname,
            self.options.app_name,
            self.procid,
            r.seq,
            sd_value(&r.decision_id),
            r.decision.as_str(),
        )
        .into_bytes();
        msg.extend_from_slice(&o.line);
        out.extend_from_slice(msg.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(&msg);
    }

    fn deliver(&mut self) -> std::result::Result<(), String> {
        let timeout = self.options.timeout;
        let deadline = Instant::now() + timeout;
        let addrs: Vec<SocketAddr> = self
            .options
            .address
            .to_socket_addrs()
            .map_err(|e| format!("syslog: cannot resolve {}: {e}", self.options.address))?
            .collect();
        let mut last = format!("syslog: {} has no address", self.options.address);
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("syslog: cannot connect to {addr}: {e}"),
            }
        }
        let mut stream = stream.ok_or(last)?;
        let fail = |what: &str, e: std::io::Error| format!("syslog: {what}: {e}");
        stream
            .set_write_timeout(Some(timeout))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| fail("socket", e))?;
        stream
            .write_all(&self.frames)
            .map_err(|e| fail("write", e))?;
        stream
            .shutdown(Shutdown::Write)
            .map_err(|e| fail("close", e))?;
        // Wait for the collector's orderly close; discard (bounded) anything it says.
        let mut buf = [0u8; 4096];
        let mut replied = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("syslog: the collector did not close the connection in time".into());
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(|e| fail("socket", e))?;
            match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    replied += n;
                    if replied > MAX_REPLY {
                        return Err("syslog: the collector sent unexpected data".into());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("syslog: the collector did not close the connection in time".into())
                }
                Err(e) => return Err(fail("waiting for the collector", e)),
            }
        }
    }
}

impl Transport for Syslog {
    fn send(&mut self, batch: &[Outgoing]) -> std::result::Result<(), String> {
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        for o in batch {
            self.frame(o, &mut frames);
        }
        self.frames = frames;
        self.deliver()
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` bytes, `-` if empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_sd_values_are_escaped() {
        assert_eq!(header_field("a b\nc", 10), "abc");
        assert_eq!(header_field("", 10), "-");
        assert_eq!(sd_value(r#"x"]\"#), r#"x\"\]\\"#);
    }
}
