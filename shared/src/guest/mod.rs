//! The thin layer between the core and Spin: the HTTP entry point, variables, store connections.
//!
//! Every fallible call here returns an [`ApiError`](crate::error::ApiError) that is already safe to
//! show a client; the underlying cause (with credentials redacted) goes to stderr, which Spin logs.

pub mod alerts;
pub mod analysis;
pub mod bindings;
pub mod config;
pub mod entry;
#[cfg(feature = "guard")]
pub mod guard;
pub mod health;
pub mod mysql;
pub mod prefs;
#[cfg(feature = "guard")]
pub mod ratelimit;
pub mod realtime;
pub mod redis;
pub mod rows;
pub mod sessions;
pub mod site;
pub mod stores;
pub mod telemetry;
pub mod trading;
pub mod users;

pub use crate::error::{internal, request_id};
