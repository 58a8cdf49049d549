//! `solarhub simulate`'s alerts: now and then a rack or a PCS raises a realistic alert, which
//! clears after a few minutes. Each is written to the alert log (`ess.alerts`) and announced as an
//! alert event (`realtime::events`: appended to `<prefix>alerts:log`, published on
//! `<prefix><alerts channel>`), as the site's collectors do. Alerts still active when the
//! simulator stops are cleared then, so none is left active forever.

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;
use solarhub_shared::alerts::AlertView;
use solarhub_shared::realtime::events::{channel, log_key, AlertEvent, EventKind, LOG_MAX_LEN};
use solarhub_shared::schema::{ess, Database, RACK_COUNT};
use solarhub_shared::time::{format_iso, format_mysql_datetime, UtcOffset};

use crate::config::Config;
use crate::rng::Rng;

/// What a device may raise: kind, code, level, message.
const CATALOG: [(&str, &str, &str, &str); 8] = [
    (ess::DEVICE_BESS, "CELL_OV", "critical", "Cell over-voltage"),
    (ess::DEVICE_BESS, "CELL_UV", "warning", "Cell under-voltage"),
    (
        ess::DEVICE_BESS,
        "TEMP_HI",
        "warning",
        "High rack temperature",
    ),
    (ess::DEVICE_BESS, "BMS_COMM", "info", "BMS link interrupted"),
    (
        ess::DEVICE_PCS,
        "IGBT_OT",
        "critical",
        "IGBT over-temperature",
    ),
    (ess::DEVICE_PCS, "GRID_UV", "warning", "Grid under-voltage"),
    (
        ess::DEVICE_PCS,
        "DC_INSUL",
        "warning",
        "DC insulation resistance low",
    ),
    (ess::DEVICE_PCS, "FAN", "info", "Cooling fan restarted"),
];

/// How long a simulated alert stays active, seconds.
const ACTIVE_SECS: (i64, i64) = (30, 300);

pub struct AlertSim {
    rng: Rng,
    /// Mean seconds between two raised alerts.
    every_secs: f64,
    channel: String,
    offset: UtcOffset,
    table: String,
    mysql: mysql_async::Conn,
    /// Raised and not yet cleared: the alert and when it clears.
    active: Vec<(AlertView, i64)>,
    pub raised: u64,
}

impl AlertSim {
    pub async fn open(cfg: &Config, seed: u64, every_secs: u64) -> Result<AlertSim> {
        let conns = crate::db::connect_all(cfg).await?;
        let server = cfg.target(Database::Ess).server;
        let mysql = conns
            .into_iter()
            .nth(server)
            .context("no connection to the ess server")?;
        Ok(AlertSim {
            rng: Rng::derive(seed, 0xa1e7),
            every_secs: every_secs as f64,
            channel: channel(&cfg.redis_prefix, &cfg.alerts_channel),
            offset: cfg.site_offset,
            table: cfg.qualified(Database::Ess, ess::ALERTS),
            mysql,
            active: Vec::new(),
            raised: 0,
        })
    }

    /// Active simulated alerts per rack (for the racks' `alarm_count`).
    pub fn rack_counts(&self) -> [u16; 12] {
        let mut counts = [0u16; 12];
        for (alert, _) in &self.active {
            if alert.device_kind == ess::DEVICE_BESS && (1..=RACK_COUNT).contains(&alert.device_no)
            {
                counts[usize::from(alert.device_no - 1)] += 1;
            }
        }
        counts
    }

    /// One step of `dt` seconds at `now`: maybe raise one, clear those whose time has come.
    pub async fn step(
        &mut self,
        redis: &mut redis::aio::MultiplexedConnection,
        prefix: &str,
        now: i64,
        dt: f64,
    ) -> Result<()> {
        let due: Vec<usize> = (0..self.active.len())
            .filter(|&i| self.active[i].1 <= now)
            .collect();
        for i in due.into_iter().rev() {
            let (alert, _) = self.active.remove(i);
            self.clear(redis, prefix, alert, now).await?;
        }
        if self.rng.chance(dt / self.every_secs) {
            self.raise(redis, prefix, now).await?;
        }
        Ok(())
    }

    async fn raise(
        &mut self,
        redis: &mut redis::aio::MultiplexedConnection,
        prefix: &str,
        now: i64,
    ) -> Result<()> {
        let (kind, code, level, message) = CATALOG[self.rng.below(CATALOG.len() as u64) as usize];
        let device_no = if kind == ess::DEVICE_PCS {
            self.rng.below(2) as u8
        } else {
            self.rng.int(1, i64::from(RACK_COUNT)) as u8
        };
        self.mysql
            .exec_drop(
                format!(
                    "INSERT INTO {} (device_kind, device_no, code, level, message, started_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                    self.table
                ),
                (
                    kind,
                    device_no,
                    code,
                    level,
                    message,
                    format_mysql_datetime(now),
                ),
            )
            .await?;
        let id = self.mysql.last_insert_id().context("no alert id")?;
        let started = format_iso(now, self.offset);
        let alert = AlertView {
            id,
            device_kind: kind.into(),
            device_no,
            code: code.into(),
            level: level.into(),
            message: message.into(),
            started_at: started.clone(),
            cleared_at: None,
            active: true,
            acknowledged: false,
            acknowledged_by: None,
            acknowledged_at: None,
        };
        let clears_at = now + self.rng.int(ACTIVE_SECS.0, ACTIVE_SECS.1);
        announce(
            redis,
            prefix,
            &self.channel,
            EventKind::Raised,
            started,
            &alert,
        )
        .await?;
        self.active.push((alert, clears_at));
        self.raised += 1;
        Ok(())
    }

    async fn clear(
        &mut self,
        redis: &mut redis::aio::MultiplexedConnection,
        prefix: &str,
        mut alert: AlertView,
        now: i64,
    ) -> Result<()> {
        self.mysql
            .exec_drop(
                format!(
                    "UPDATE {} SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL",
                    self.table
                ),
                (format_mysql_datetime(now), alert.id),
            )
            .await?;
        // What the log says now (someone may have acknowledged it meanwhile).
        let ack: Option<(bool, Option<u64>, Option<String>)> = self
            .mysql
            .exec_first(
                format!(
                    "SELECT acknowledged = 1, acknowledged_by, \
                     DATE_FORMAT(acknowledged_at, '%Y-%m-%d %H:%i:%s') FROM {} WHERE id = ?",
                    self.table
                ),
                (alert.id,),
            )
            .await?;
        if let Some((acknowledged, by, at)) = ack {
            alert.acknowledged = acknowledged;
            alert.acknowledged_by = by;
            alert.acknowledged_at = at
                .as_deref()
                .and_then(solarhub_shared::time::parse_mysql_datetime)
                .map(|t| format_iso(t, self.offset));
        }
        let cleared = format_iso(now, self.offset);
        alert.cleared_at = Some(cleared.clone());
        alert.active = false;
        announce(
            redis,
            prefix,
            &self.channel,
            EventKind::Cleared,
            cleared,
            &alert,
        )
        .await
    }

    /// Clears every alert still active (the simulator is stopping).
    pub async fn finish(
        mut self,
        redis: &mut redis::aio::MultiplexedConnection,
        prefix: &str,
        now: i64,
    ) -> Result<u64> {
        for (alert, _) in std::mem::take(&mut self.active) {
            self.clear(redis, prefix, alert, now).await?;
        }
        self.mysql.disconnect().await.ok();
        Ok(self.raised)
    }
}

/// Appends the event to the alert log stream, then publishes it with its entry id.
async fn announce(
    redis: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    channel: &str,
    kind: EventKind,
    at: String,
    alert: &AlertView,
) -> Result<()> {
    let event = AlertEvent::new(kind, at, alert.clone());
    let id: String = redis::cmd("XADD")
        .arg(log_key(prefix))
        .arg("MAXLEN")
        .arg("~")
        .arg(LOG_MAX_LEN)
        .arg("*")
        .arg("event")
        .arg(event.to_json())
        .query_async(redis)
        .await?;
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(event.with_id(id).to_json())
        .query_async(redis)
        .await?;
    Ok(())
}
