-- Alert log of the racks (device_kind 'bess', device_no 1..12) and the PCS
-- (device_kind 'pcs', device_no 0..1). cleared_at IS NULL means still active.

CREATE TABLE alerts (
    id              BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
    device_kind     ENUM('bess','pcs') NOT NULL,
    device_no       TINYINT UNSIGNED NOT NULL,
    code            VARCHAR(32)      NOT NULL,
    level           ENUM('info','warning','critical') NOT NULL,
    message         VARCHAR(255)     NOT NULL,
    started_at      DATETIME         NOT NULL,
    cleared_at      DATETIME         NULL,
    acknowledged    TINYINT(1)       NOT NULL DEFAULT 0,
    acknowledged_by BIGINT UNSIGNED  NULL,
    acknowledged_at DATETIME         NULL,
    PRIMARY KEY (id),
    -- per-device history: WHERE device_kind=? AND device_no=? AND started_at >= ? ORDER BY started_at DESC
    KEY ix_alerts_device_started (device_kind, device_no, started_at),
    -- all PCS (or all rack) alerts since a time
    KEY ix_alerts_kind_started (device_kind, started_at),
    -- active alerts and their counts per level: WHERE cleared_at IS NULL
    KEY ix_alerts_active (cleared_at, level),
    CONSTRAINT fk_alerts_acknowledged_by FOREIGN KEY (acknowledged_by) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
