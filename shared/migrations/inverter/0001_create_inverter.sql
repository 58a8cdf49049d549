-- PV inverter history every 60 s. ac_kw/dc_kw are generation (positive);
-- today_kwh resets at local (site) midnight; lifetime_kwh is the inverter's register.

CREATE TABLE INVERTER_1 (
    ts           DATETIME NOT NULL,
    status       ENUM('run','standby','fault') NOT NULL,
    ac_kw        DOUBLE   NOT NULL,
    dc_kw        DOUBLE   NOT NULL,
    today_kwh    DOUBLE   NOT NULL,
    lifetime_kwh DOUBLE   NOT NULL,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;
