//! The Spin store interfaces, `fermyon:spin/{mysql,redis,variables}@2.0.0`, bound from `wit/` (the
//! same WIT the auth-guard and the local host bind), and with the `guard` feature the
//! `solarhub:auth/guard` import. Spin 4 serves these synchronous interfaces to WASIp3 components;
//! spin-sdk 6 binds only their async successors, whose Redis connection the guard could not borrow.

#[cfg(not(feature = "guard"))]
spin_sdk::wit_bindgen::generate!({
    world: "stores",
    path: "../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

#[cfg(feature = "guard")]
spin_sdk::wit_bindgen::generate!({
    world: "guarded",
    path: "../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

pub use fermyon::spin::{mysql, rdbms_types, redis, variables};
#[cfg(feature = "guard")]
pub use solarhub::auth::guard;
