//! The store-fault tests' site: every database migrated, users of each role, fresh live hashes
//! for every device, a few alerts, and the app reaching MariaDB and Redis only through a
//! [`Proxy`] each, so a test can fail either store under it.

#![allow(dead_code)]

use serde_json::json;
use solarhub_shared::schema::{
    Database, INVERTER_FIELDS, METER_FIELDS, PCS_FIELDS, RACK_COUNT, RACK_FIELDS,
};

use super::api::{sql, write_hash};
use super::load::{send, Answer, Call};
use super::proxy::Proxy;
use super::runtime::{Runtime, TestApp};
use super::site::Site;

/// Requests in flight at once: enough to fill an instance's 16 concurrent slots and then some.
pub const WORKERS: usize = 24;

pub struct Rig {
    pub site: Site,
    pub mysql: Proxy,
    pub redis: Proxy,
    pub app: TestApp,
    /// Access tokens of `vera` (viewer), `otto` (operator) and `ada` (admin).
    pub viewer: String,
    pub operator: String,
    pub admin: String,
    /// The id of `bob`, a second admin that tests may change.
    pub bob: u64,
}

impl Rig {
    pub async fn start(rt: Runtime, tag: &str) -> Rig {
        Self::start_with(rt, tag, &[]).await
    }

    /// With `overrides` of the app's variables.
    pub async fn start_with(rt: Runtime, tag: &str, overrides: &[(&str, &str)]) -> Rig {
        let site = Site::new(tag, &Database::ALL).await;
        site.add_user("vera", &["viewer"]).await;
        site.add_user("otto", &["operator"]).await;
        site.add_user("ada", &["admin"]).await;
        let bob = site.add_user("bob", &["admin"]).await;
        write_live_values(&site).await;
        write_alerts(&site, 40).await;
        let mysql = Proxy::start("127.0.0.1:3306".parse().unwrap()).await;
        let redis = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
        let variables = through_proxies(site.variables(), &mysql, &redis);
        let mut settings: Vec<(&str, &str)> = vec![
            // The live hashes are written once: keep them fresh for the whole test.
            ("live_stale_after_secs", "86400"),
            // Every login of every test comes from 127.0.0.1.
            ("login_max_attempts_per_address", "1000000"),
        ];
        settings.extend_from_slice(overrides);
        let app = super::start_app(rt, variables, &settings).await;
        let mut rig = Rig {
            site,
            mysql,
            redis,
            app,
            viewer: String::new(),
            operator: String::new(),
            admin: String::new(),
            bob,
        };
        rig.viewer = rig.token("vera").await;
        rig.operator = rig.token("otto").await;
        rig.admin = rig.token("ada").await;
        rig
    }

    /// `POST /auth/login` as `username` (password [`super::site::PASSWORD`]).
    pub async fn login(&self, username: &str) -> Answer {
        let body = json!({"username": username, "password": super::site::PASSWORD});
        let call = Call::with_body("POST", "/api/v1/auth/login", None, body);
        send(self.app.addr, vec![call], 1).await.remove(0)
    }

    async fn token(&self, username: &str) -> String {
        let answer = self.login(username).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// Today's local date at the site.
    pub fn today(&self) -> String {
        let offset = solarhub_shared::time::UtcOffset::SITE_DEFAULT;
        solarhub_shared::time::local_date(solarhub_shared::time::now_unix(), offset).to_string()
    }

    pub async fn stop(self) {
        self.app.stop().await.unwrap();
        drop(self.mysql);
        drop(self.redis);
        self.site.cleanup().await;
    }
}

/// The site's variables with every store reached through the proxies (URLs and allow-lists).
fn through_proxies(
    mut variables: Vec<(String, String)>,
    mysql: &Proxy,
    redis: &Proxy,
) -> Vec<(String, String)> {
    for (name, value) in &mut variables {
        if name.starts_with("db_") {
            // mysql_async (in both runtimes) otherwise moves a connection to 127.0.0.1 onto the
            // server's Unix socket right after connecting, past the proxy.
            *value = format!(
                "{}?prefer_socket=false",
                value.replace("127.0.0.1:3306", &mysql.host())
            );
        }
    }
    let redis_url = format!("redis://{}", redis.host());
    for (name, value) in [
        ("mysql_host", mysql.host()),
        ("gtr_mysql_host", mysql.host()),
        ("redis_main_host", redis.host()),
        ("redis_gtr_host", redis.host()),
        ("redis_main_url", redis_url.clone()),
        ("redis_gtr_url", redis_url),
    ] {
        variables.retain(|(n, _)| n != name);
        variables.push((name.to_owned(), value));
    }
    variables
}

/// Every field of a live hash, with `ts` now: text for `status`, numbers for the rest.
fn live(fields: &[&'static str], status: &str) -> Vec<(&'static str, String)> {
    let now = solarhub_shared::time::now_unix();
    fields
        .iter()
        .map(|&field| {
            let value = match field {
                "ts" => now.to_string(),
                "status" => status.to_owned(),
                "PF" => "0.98".to_owned(),
                "freq" => "60.01".to_owned(),
                "soc" | "soh" => "80".to_owned(),
                _ => "12".to_owned(),
            };
            (field, value)
        })
        .collect()
}

async fn write_live_values(site: &Site) {
    for n in 1..=RACK_COUNT {
        write_hash(site, &format!("bess:{n}"), &live(&RACK_FIELDS, "idle")).await;
    }
    for n in 0..2 {
        write_hash(site, &format!("pcs:{n}"), &live(&PCS_FIELDS, "run")).await;
    }
    for meter in ["MMAIN", "MAUX"] {
        write_hash(site, &format!("meter:{meter}"), &live(&METER_FIELDS, "")).await;
    }
    write_hash(site, "inverter:1", &live(&INVERTER_FIELDS, "run")).await;
}

/// `n` unacknowledged alerts on the racks and PCS, started over the last hours.
pub async fn write_alerts(site: &Site, n: usize) {
    let ess = site.db_name(Database::Ess);
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let (kind, device) = if i % 3 == 0 {
                ("pcs", i % 2)
            } else {
                ("bess", 1 + i % 12)
            };
            format!(
                "('{kind}', {device}, 'CODE{i}', 'warning', 'Alert {i}', \
                 UTC_TIMESTAMP() - INTERVAL {i} MINUTE, NULL, 0)"
            )
        })
        .collect();
    sql(
        site,
        &format!(
            "INSERT INTO `{ess}`.alerts (device_kind, device_no, code, level, message, started_at, \
             cleared_at, acknowledged) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
}
