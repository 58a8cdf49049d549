//! Redis triggers, as Spin 4.0.2's `spin trigger redis` runs them: one subscriber connection per
//! server address, subscribed to every channel a trigger names; each message is handed to the
//! components of its channel (concurrently), each in a **fresh instance** (Spin does not reuse
//! instances here), through the export `spin:redis/inbound-redis@3.0.0` (spin-sdk 6's
//! `#[redis_subscriber]`). A subscriber takes its messages **one at a time**: the next message
//! waits until every component is done with this one, as on Spin. A handler's error or trap is
//! logged and the subscriber goes on.
//!
//! Where it differs: a lost subscription is retried every second (Spin's trigger exits, and
//! `spin up` with it); the older `fermyon:spin/inbound-redis` export is refused at load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::instance::{InstanceCounter, InstanceLife, LiveInstance};
use crate::state::{ComponentContext, InstanceState};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "solarhub:host/redis-subscriber",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::RedisSubscriberPre;

/// `spin:redis/redis@3.0.0` as a Redis-triggered component imports it: only the types of its
/// entry point (no functions), so there is nothing to implement.
impl bindings::spin::redis::redis::Host for InstanceState {}

pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> Result<()> {
    bindings::spin::redis::redis::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
        linker,
        |s| s,
    )?;
    Ok(())
}

/// The export a Redis-triggered component must have.
pub const INBOUND_REDIS: &str = "spin:redis/inbound-redis@3.0.0";

/// One component a Redis trigger runs.
pub struct RedisComponent {
    pub ctx: Arc<ComponentContext>,
    pre: RedisSubscriberPre<InstanceState>,
    pub counter: Arc<InstanceCounter>,
    /// Messages handled, and those whose handler failed (an error or a trap).
    pub handled: AtomicU64,
    pub failed: AtomicU64,
}

/// Every Redis trigger of the app, by server address and channel.
pub struct RedisTriggers {
    engine: Engine,
    /// address → channel → component ids (as Spin groups them).
    pub subscriptions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    pub components: BTreeMap<String, RedisComponent>,
    timeout: Duration,
    max_memory: usize,
}

impl RedisTriggers {
    pub fn new(engine: Engine, timeout: Duration, max_memory: usize) -> Self {
        RedisTriggers {
            engine,
            subscriptions: BTreeMap::new(),
            components: BTreeMap::new(),
            timeout,
            max_memory,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty()
    }

    /// Adds a component (compiled, with its dependencies composed) unless it is there already.
    pub fn add_component(
        &mut self,
        linker: &Linker<InstanceState>,
        component: &Component,
        ctx: Arc<ComponentContext>,
    ) -> Result<()> {
        if self.components.contains_key(&ctx.id) {
            return Ok(());
        }
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        if !exports.iter().any(|e| e == INBOUND_REDIS) {
            anyhow::bail!(
                "it does not export {INBOUND_REDIS} (spin-sdk 6's #[redis_subscriber]); it exports {exports:?}"
            );
        }
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("it imports something this host does not provide")?;
        let pre = RedisSubscriberPre::new(pre)?;
        self.components.insert(
            ctx.id.clone(),
            RedisComponent {
                ctx,
                pre,
                counter: Arc::default(),
                handled: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            },
        );
        Ok(())
    }

    pub fn subscribe(&mut self, address: String, channel: String, component: String) {
        self.subscriptions
            .entry(address)
            .or_default()
            .entry(channel)
            .or_default()
            .push(component);
    }

    /// Starts one subscriber task per server; they run until aborted.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        self.subscriptions
            .keys()
            .map(|address| {
                let triggers = self.clone();
                let address = address.clone();
                tokio::spawn(async move { triggers.listen(&address).await })
            })
            .collect()
    }

    async fn listen(&self, address: &str) {
        let channels = &self.subscriptions[address];
        let shown = without_credentials(address);
        loop {
            match self.subscribe_and_serve(address, channels).await {
                Ok(()) => eprintln!("Redis trigger: subscription to {shown} ended; resubscribing"),
                Err(e) => eprintln!("Redis trigger: {shown}: {e:#}; retrying in 1 s"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn subscribe_and_serve(
        &self,
        address: &str,
        channels: &BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        let client = redis::Client::open(address).context("invalid Redis address")?;
        let mut pubsub = client.get_async_pubsub().await.context("connecting")?;
        for (channel, components) in channels {
            pubsub
                .subscribe(channel)
                .await
                .with_context(|| format!("subscribing to {channel:?}"))?;
            eprintln!(
                "Redis trigger: {}/{channel}: [{}]",
                without_credentials(address),
                components.join(",")
            );
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let channel = message.get_channel_name().to_owned();
            let Some(ids) = channels.get(&channel) else {
                continue;
            };
            let payload = message.get_payload_bytes().to_vec();
            // One message at a time, its components side by side: as Spin's subscriber.
            let runs = ids.iter().map(|id| self.dispatch(id, payload.clone()));
            futures_util::future::join_all(runs).await;
        }
        Ok(())
    }

    /// Runs one message through a fresh instance of component `id`.
    async fn dispatch(&self, id: &str, payload: Vec<u8>) {
        let Some(component) = self.components.get(id) else {
            return;
        };
        let outcome = tokio::time::timeout(self.timeout, self.run(component, payload)).await;
        component.handled.fetch_add(1, Ordering::Relaxed);
        let failure = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        component.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("Component {id} handler failed: {failure}");
    }

    async fn run(&self, component: &RedisComponent, payload: Vec<u8>) -> Result<()> {
        let number = component.counter.started.fetch_add(1, Ordering::Relaxed) + 1;
        let data = InstanceState::new(
            component.ctx.clone(),
            Arc::new(InstanceLife::new(number)),
            LiveInstance::new(&component.counter),
            self.max_memory,
        );
        let mut store = Store::new(&self.engine, data);
        store.limiter(|s| s.limiter());
        // Yield to other tasks every tick; the timeout above stops a guest that never finishes.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        let guest = component.pre.instantiate_async(&mut store).await?;
        let answer = store
            .run_concurrent(async |accessor| {
                guest
                    .spin_redis_inbound_redis()
                    .call_handle_message(accessor, payload)
                    .await
            })
            .await
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)?;
        answer.map_err(|e| anyhow::anyhow!("Redis handler returned an error: {e:?}"))
    }
}

/// `redis://user:pw@host:6379/0` as `redis://host:6379/0`, for logs.
fn without_credentials(address: &str) -> String {
    match address.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => "<unparseable address>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_never_show_credentials() {
        assert_eq!(
            super::without_credentials("redis://u:p@w@h:6379/0"),
            "redis://h:6379/0"
        );
        assert_eq!(super::without_credentials("redis://h"), "redis://h");
    }
}
