//! The dashboard's frame: the sidebar (menu entries the caller's permissions allow, device lists,
//! badge counts) and the header (site, local time, caller, mode, connectivity, active alerts).

use serde::Serialize;

use crate::schema::ess::{PERM_TELEMETRY_READ, PERM_TRADING_READ, PERM_USERS_ADMIN};
use crate::schema::{PCS_COUNT, RACK_COUNT};

/// One screen of the dashboard and the permission it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MenuEntry {
    pub id: &'static str,
    pub label: &'static str,
    pub path: &'static str,
    pub permission: &'static str,
}

const fn entry(
    id: &'static str,
    label: &'static str,
    path: &'static str,
    permission: &'static str,
) -> MenuEntry {
    MenuEntry {
        id,
        label,
        path,
        permission,
    }
}

pub const MENU: [MenuEntry; 11] = [
    entry("overview", "Overview", "/overview", PERM_TELEMETRY_READ),
    entry("topology", "Topology", "/topology", PERM_TELEMETRY_READ),
    entry("bess", "Battery racks", "/bess", PERM_TELEMETRY_READ),
    entry("pcs", "PCS", "/pcs", PERM_TELEMETRY_READ),
    entry("meters", "Meters and PV", "/meters", PERM_TELEMETRY_READ),
    entry("alerts", "Alerts", "/alerts", PERM_TELEMETRY_READ),
    entry("analysis", "Analysis", "/analysis", PERM_TELEMETRY_READ),
    entry("schedule", "Schedule", "/schedule", PERM_TRADING_READ),
    entry("income", "Income", "/income", PERM_TRADING_READ),
    entry(
        "execution",
        "Execution rate",
        "/execution-rate",
        PERM_TRADING_READ,
    ),
    entry("users", "Users", "/admin/users", PERM_USERS_ADMIN),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Devices {
    pub racks: Vec<u8>,
    pub pcs: Vec<u8>,
    /// Meters with a live hash, by name (found by SCAN).
    pub meters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Badges {
    pub alerts_bess: u64,
    pub alerts_pcs: u64,
    pub alerts_total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sidebar {
    pub menu: Vec<MenuEntry>,
    /// Null for a caller who may not read telemetry.
    pub devices: Option<Devices>,
    pub badges: Option<Badges>,
}

/// The sidebar for a caller holding `permissions`; device lists and badges only for callers who
/// may read telemetry (they name the site's equipment and its faults).
pub fn sidebar(
    permissions: &[String],
    meters: Vec<String>,
    active_alerts: &[(String, u64)],
) -> Sidebar {
    let holds = |p: &str| permissions.iter().any(|h| h == p);
    let menu = MENU
        .iter()
        .filter(|e| holds(e.permission))
        .cloned()
        .collect();
    if !holds(PERM_TELEMETRY_READ) {
        return Sidebar {
            menu,
            devices: None,
            badges: None,
        };
    }
    let count = |kind: &str| {
        active_alerts
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, n)| n)
            .sum()
    };
    let (alerts_bess, alerts_pcs) = (count("bess"), count("pcs"));
    Sidebar {
        menu,
        devices: Some(Devices {
            racks: (1..=RACK_COUNT).collect(),
            pcs: (0..PCS_COUNT).collect(),
            meters,
        }),
        badges: Some(Badges {
            alerts_bess,
            alerts_pcs,
            alerts_total: alerts_bess + alerts_pcs,
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallerView {
    pub username: String,
    pub roles: Vec<String>,
}

/// Whether each store answered while the header was built.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connectivity {
    pub mysql: bool,
    pub redis_main: bool,
    pub redis_gtr: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    pub site_name: String,
    /// Site-local now, ISO 8601 with the offset.
    pub now: String,
    pub caller: CallerView,
    /// `dreg`, `edreg` or `idle`; null when the schedule could not be read.
    pub mode: Option<String>,
    pub connectivity: Connectivity,
    /// Null when the alert log could not be read.
    pub active_alerts: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_menu_follows_the_permissions() {
        let viewer = sidebar(
            &perms(&["telemetry:read", "trading:read"]),
            vec!["MMAIN".into()],
            &[("bess".into(), 3), ("pcs".into(), 1)],
        );
        let ids: Vec<&str> = viewer.menu.iter().map(|e| e.id).collect();
        assert!(!ids.contains(&"users") && ids.contains(&"schedule") && ids.contains(&"overview"));
        assert_eq!(
            viewer.badges,
            Some(Badges {
                alerts_bess: 3,
                alerts_pcs: 1,
                alerts_total: 4
            })
        );
        let devices = viewer.devices.unwrap();
        assert_eq!(
            (devices.racks.len(), devices.pcs, devices.meters),
            (12, vec![0, 1], vec!["MMAIN".to_owned()])
        );

        let admin_only = sidebar(&perms(&["users:admin"]), Vec::new(), &[]);
        let ids: Vec<&str> = admin_only.menu.iter().map(|e| e.id).collect();
        assert_eq!(ids, ["users"]);
        assert_eq!((admin_only.devices, admin_only.badges), (None, None));
        assert!(sidebar(&[], Vec::new(), &[]).menu.is_empty());
    }
}
