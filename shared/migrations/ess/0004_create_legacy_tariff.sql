-- Legacy tables kept for the old dashboard: time-of-use period mappings and tariff prices.

CREATE TABLE time_mappings (
    id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
    season     VARCHAR(16)  NOT NULL,
    day_type   VARCHAR(16)  NOT NULL,
    start_time TIME         NOT NULL,
    end_time   TIME         NOT NULL,
    period     VARCHAR(16)  NOT NULL,
    PRIMARY KEY (id),
    KEY ix_time_mappings_lookup (season, day_type, start_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tariff (
    id             INT UNSIGNED  NOT NULL AUTO_INCREMENT,
    season         VARCHAR(16)   NOT NULL,
    period         VARCHAR(16)   NOT NULL,
    price_twd_kwh  DECIMAL(8,4)  NOT NULL,
    effective_from DATE          NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_tariff (season, period, effective_from)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
