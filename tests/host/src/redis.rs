//! fermyon:spin/redis@2.0.0 on the `redis` crate, with Spin's semantics: a denied or unparseable
//! address is `invalid-address`, `execute` flattens replies into nil/status/int64/binary, and only
//! `sadd` reports `type-error`.
//!
//! Like Spin, every `open` makes a new (multiplexed) server connection, owned by the guest's
//! resource: it closes when the guest drops the handle or its instance goes away.
//! `StoreCounters::redis` counts them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, Value};
use wasmtime::component::Resource;

use crate::bindings::redis::{Error, Host, HostConnection, RedisParameter, RedisResult};
use crate::state::{ConnectionCounter, InstanceState};

/// A guest's Redis connection. The socket closes when the last clone of the multiplexed
/// connection (this one; calls borrow clones only while they run) is dropped.
pub struct RedisConnection {
    conn: MultiplexedConnection,
    counter: Arc<ConnectionCounter>,
}

impl Drop for RedisConnection {
    fn drop(&mut self) {
        self.counter.closes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Spin sets neither; a test host should not hang on a server that never answers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

async fn connect(address: &str) -> Result<MultiplexedConnection, Error> {
    let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(other)
}

impl Host for InstanceState {}

impl InstanceState {
    fn redis(
        &mut self,
        this: &Resource<RedisConnection>,
    ) -> wasmtime::Result<MultiplexedConnection> {
        Ok(self.table.get(this)?.conn.clone())
    }
}

fn other(e: redis::RedisError) -> Error {
    Error::Other(e.to_string())
}

impl HostConnection for InstanceState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        if !self.ctx.allowed.allows(&address) {
            crate::outbound::log_denied(&self.ctx.id, &address);
            return Ok(Err(Error::InvalidAddress));
        }
        let conn = match connect(&address).await {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(e)),
        };
        let counter = self.ctx.stores.redis.clone();
        counter.opens.fetch_add(1, Ordering::Relaxed);
        Ok(Ok(self.table.push(RedisConnection { conn, counter })?))
    }

    async fn publish(
        &mut self,
        this: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<Value>(&mut c)
            .await
            .map(|_| ())
            .map_err(other))
    }

    async fn get(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut c)
            .await
            .map_err(other))
    }

    async fn set(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<Value>(&mut c)
            .await
            .map(|_| ())
            .map_err(other))
    }

    async fn incr(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("INCRBY")
            .arg(key)
            .arg(1)
            .query_async::<i64>(&mut c)
            .await
            .map_err(other))
    }

    async fn del(
        &mut self,
        this: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("DEL")
            .arg(keys)
            .query_async::<u32>(&mut c)
            .await
            .map_err(other))
    }

    async fn sadd(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("SADD")
            .arg(key)
            .arg(values)
            .query_async::<u32>(&mut c)
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::UnexpectedReturnType {
                    Error::TypeError
                } else {
                    other(e)
                }
            }))
    }

    async fn smembers(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("SMEMBERS")
            .arg(key)
            .query_async::<Vec<String>>(&mut c)
            .await
            .map_err(other))
    }

    async fn srem(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut c = self.redis(&this)?;
        Ok(redis::cmd("SREM")
            .arg(key)
            .arg(values)
            .query_async::<u32>(&mut c)
            .await
            .map_err(other))
    }

    async fn execute(
        &mut self,
        this: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let mut c = self.redis(&this)?;
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                RedisParameter::Int64(n) => cmd.arg(n),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let reply = match cmd.query_async::<Value>(&mut c).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(other(e))),
        };
        let mut out = Vec::new();
        Ok(flatten(reply, &mut out).map(|()| out))
    }

    async fn drop(&mut self, this: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

fn flatten(value: Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(n) => out.push(RedisResult::Int64(n)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".to_owned())),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        Value::ServerError(e) => return Err(Error::Other(format!("{e:?}"))),
        other => {
            return Err(Error::Other(format!(
                "unsupported response type: {other:?}"
            )))
        }
    }
    Ok(())
}
