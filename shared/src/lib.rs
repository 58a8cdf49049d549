//! SolarHub's core: everything the components share that is not glue.
//!
//! Pure logic (errors, store URLs, time, health summaries, calculations) compiles natively and is
//! unit-tested there; the `guest` module (feature `spin`) holds the thin layer over spin-sdk.

pub mod alerts;
pub mod analysis;
pub mod auth;
pub mod cors;
pub mod dreg;
pub mod energy;
pub mod error;
pub mod forms;
pub mod frame;
pub mod health;
pub mod http;
pub mod kept;
pub mod live;
pub mod lost;
pub mod meters;
pub mod openapi;
pub mod params;
pub mod password;
pub mod proxies;
pub mod ratelimit;
pub mod realtime;
pub mod schema;
pub mod site;
pub mod store_url;
pub mod telemetry;
pub mod time;
pub mod trading;

#[cfg(feature = "spin")]
pub mod guest;
