//! STUB — replaced by the transports (tcp, tls, ws, wss).
