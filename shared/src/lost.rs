//! Whether a store error means the connection itself is gone (as opposed to the statement or
//! command failing), from the error's text: Spin and the local host hand the guest the store
//! client's error as text only. A lost connection is dropped from the instance and a read retried
//! on a new one (`guest::mysql`, `guest::redis`); anything else is reported as it is.

/// A MySQL error's text (`query-failed` or `other`) that means the connection is lost.
///
/// Both runtimes use mysql_async and pass its error on in two forms: the `Debug` text when a
/// statement fails (`Io(Io(Os { code: 32, kind: BrokenPipe, .. }))`), the `Display` text when the
/// rows of a result fail to arrive (`Input/output error: Connection reset by peer (os error
/// 104)`), which is what a connection cut in the middle of a reply gives.
pub fn mysql_connection_lost(text: &str) -> bool {
    const GONE: [&str; 10] = [
        // Debug forms.
        "Io(",
        "Driver(ConnectionClosed",
        "Driver(PacketOutOfOrder",
        "Driver(UnexpectedPacket",
        // Display forms.
        "Input/output error",
        "Connection to the server is closed",
        "Packet out of order",
        "Unexpected packet",
        // The server's own "gone away" (2006) and "lost connection" (2013).
        "code: 2006,",
        "code: 2013,",
    ];
    GONE.iter().any(|g| text.contains(g))
}

/// A Redis error's text (`other`) that means the connection is lost: redis-rs reports I/O
/// failures as text only.
pub fn redis_connection_lost(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "broken pipe",
        "connection reset",
        "connection refused",
        "connection closed",
        "os error",
        "io error",
        "timed out",
        "terminated",
    ]
    .iter()
    .any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_texts_of_a_lost_connection() {
        // Seen from Spin 4.0.2 and the local host: a kept connection the server closed, one
        // reset in the middle of a result, a refused reopen.
        for text in [
            r#"Io(Io(Os { code: 32, kind: BrokenPipe, message: "Broken pipe" }))"#,
            "Input/output error: Input/output error: Connection reset by peer (os error 104)",
            "Driver(ConnectionClosed)",
            "Driver error: `Connection to the server is closed.'",
            "Driver error: `Packet out of order.'",
            "Server(ServerError { code: 2006, message: \"MySQL server has gone away\" })",
        ] {
            assert!(mysql_connection_lost(text), "{text}");
        }
    }

    #[test]
    fn mysql_texts_of_a_failed_statement() {
        for text in [
            "Server(ServerError { code: 1146, message: \"Table 'x.y' doesn't exist\", state: \"42S02\" })",
            "Server(ServerError { code: 1062, message: \"Duplicate entry 'a' for key 'username'\" })",
            "Cannot convert value Bytes(\"2026-11-22\") in column ts data type Other",
        ] {
            assert!(!mysql_connection_lost(text), "{text}");
        }
    }

    #[test]
    fn redis_texts() {
        assert!(redis_connection_lost("broken pipe"));
        assert!(redis_connection_lost(
            "Connection reset by peer (os error 104)"
        ));
        assert!(redis_connection_lost("Connection refused (os error 111)"));
        assert!(!redis_connection_lost(
            "NOSCRIPT No matching script. Please use EVAL."
        ));
        assert!(!redis_connection_lost("WRONGTYPE Operation against a key"));
    }
}
