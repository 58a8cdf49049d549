//! Host-side bindings of the Spin interfaces the components import (fermyon:spin@2.0.0 mysql,
//! rdbms-types, redis, variables), generated from the WIT vendored under `wit/`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "solarhub:host/spin-imports",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/mysql.connection": crate::mysql::MysqlConnection,
        "fermyon:spin/redis.connection": crate::redis::RedisConnection,
    },
});

pub use fermyon::spin::{mysql, rdbms_types, redis, variables};
