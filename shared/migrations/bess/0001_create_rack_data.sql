-- Rack history every 60 s; one database per rack (BESS1..BESS12).
-- soc/soh in %, voltage V, current A and power_kw positive = discharge,
-- cell voltages in mV, temperatures in degrees Celsius.

CREATE TABLE rack_data (
    ts            DATETIME NOT NULL,
    status        ENUM('idle','charging','discharging','fault','offline') NOT NULL,
    soc           DOUBLE   NOT NULL,
    soh           DOUBLE   NOT NULL,
    voltage       DOUBLE   NOT NULL,
    current       DOUBLE   NOT NULL,
    power_kw      DOUBLE   NOT NULL,
    cell_v_max_mv SMALLINT UNSIGNED NOT NULL,
    cell_v_min_mv SMALLINT UNSIGNED NOT NULL,
    temp_max      DOUBLE   NOT NULL,
    temp_min      DOUBLE   NOT NULL,
    temp_avg      DOUBLE   NOT NULL,
    alarm_count   SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;
