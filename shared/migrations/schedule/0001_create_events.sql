-- Awarded dReg / E-dReg schedule events. Shared by the `schedule` database and
-- its remote trading copy `GTR`. start_at/end_at are UTC; capacity in MW;
-- capacity_price in TWD per MW·h, stored on the event.

CREATE TABLE events (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    start_at       DATETIME        NOT NULL,
    end_at         DATETIME        NOT NULL,
    mode           ENUM('dreg','edreg') NOT NULL,
    capacity_mw    DECIMAL(8,3)    NOT NULL,
    capacity_price DECIMAL(10,2)   NOT NULL,
    status         ENUM('scheduled','active','completed','cancelled') NOT NULL DEFAULT 'scheduled',
    created_at     DATETIME        NOT NULL DEFAULT (UTC_TIMESTAMP()),
    PRIMARY KEY (id),
    KEY ix_events_start (start_at),
    KEY ix_events_mode_start (mode, start_at),
    CONSTRAINT ck_events_window CHECK (end_at > start_at),
    CONSTRAINT ck_events_capacity CHECK (capacity_mw > 0 AND capacity_price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
