//! What the simulated network does to each request ([`SimSettings`], [`Fault`]) and how
//! long it waits on a silent client ([`Timeouts`]): plain values the front ends parse and
//! the server thread reads.

use std::time::Duration;

use crate::network::{Rate, format_latency};

/// How long the server waits on a client that sends nothing, or too slowly, before it
/// closes the connection: without limits, connections that trickle hold every file
/// descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Most time for a request's head to arrive, counted from when the server starts
    /// waiting for it: bounds a client trickling its headers and an idle keep-alive
    /// connection alike (hyper starts the clock at each head it waits for).
    pub header_read: Duration,
    /// Most time a connection may go without a byte read or written while the server is
    /// not itself holding the answer: a client that stops reading its answer.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// Apache's `RequestReadTimeout header=20` and nginx's `send_timeout 60s`.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(20),
            idle: Duration::from_secs(60),
        }
    }
}

/// A deliberate misbehaviour, to show (and test) what chunkscope says when a server fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// A well-behaved server.
    #[default]
    None,
    /// Ignores `Range` and sends whole files with 200, as some plain web servers do.
    IgnoreRange,
    /// Answers every file request with 403 Forbidden (catalogs are still served).
    Forbidden,
    /// Accepts connections and reads requests, but never answers.
    Stall,
}

/// What the simulated network does to each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSettings {
    /// Added before each response starts.
    pub latency: Duration,
    /// Cap on each connection's body bytes per second; `None`: as fast as loopback goes.
    pub bandwidth: Option<Rate>,
    /// Cap on all connections together; `None`: no total cap.
    pub total_bandwidth: Option<Rate>,
    pub fault: Fault,
}

impl SimSettings {
    /// `simulated network: 50 ms latency, 25 MiB/s per connection[, 100 MiB/s in total]`.
    pub fn description(&self) -> String {
        let mut s = format!(
            "simulated network: {} latency, {}",
            format_latency(self.latency),
            match self.bandwidth {
                Some(b) => format!("{b} per connection"),
                None => "no bandwidth cap".to_string(),
            }
        );
        if let Some(t) = self.total_bandwidth {
            s.push_str(&format!(", {t} in total"));
        }
        match self.fault {
            Fault::None => {}
            Fault::IgnoreRange => s.push_str(", ignoring Range"),
            Fault::Forbidden => s.push_str(", answering 403"),
            Fault::Stall => s.push_str(", never answering"),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let s = SimSettings {
            latency: Duration::from_millis(50),
            bandwidth: Rate::from_bytes_per_s(25 << 20),
            total_bandwidth: Rate::from_bytes_per_s(100 << 20),
            fault: Fault::None,
        };
        assert_eq!(
            s.description(),
            "simulated network: 50 ms latency, 25 MiB/s per connection, 100 MiB/s in total"
        );
    }
}
