-- PCS history every 10 s. p_kw positive = discharge, negative = charge.
-- fault_code 0 = no fault.

CREATE TABLE pcs0_data (
    ts         DATETIME NOT NULL,
    status     ENUM('run','stop','fault') NOT NULL,
    p_kw       DOUBLE   NOT NULL,
    q_kvar     DOUBLE   NOT NULL,
    dc_v       DOUBLE   NOT NULL,
    dc_a       DOUBLE   NOT NULL,
    v_a        DOUBLE   NOT NULL,
    v_b        DOUBLE   NOT NULL,
    v_c        DOUBLE   NOT NULL,
    i_a        DOUBLE   NOT NULL,
    i_b        DOUBLE   NOT NULL,
    i_c        DOUBLE   NOT NULL,
    freq       DOUBLE   NOT NULL,
    fault_code SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;

CREATE TABLE pcs1_data (
    ts         DATETIME NOT NULL,
    status     ENUM('run','stop','fault') NOT NULL,
    p_kw       DOUBLE   NOT NULL,
    q_kvar     DOUBLE   NOT NULL,
    dc_v       DOUBLE   NOT NULL,
    dc_a       DOUBLE   NOT NULL,
    v_a        DOUBLE   NOT NULL,
    v_b        DOUBLE   NOT NULL,
    v_c        DOUBLE   NOT NULL,
    i_a        DOUBLE   NOT NULL,
    i_b        DOUBLE   NOT NULL,
    i_c        DOUBLE   NOT NULL,
    freq       DOUBLE   NOT NULL,
    fault_code SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;
