//! bcsync engine.
