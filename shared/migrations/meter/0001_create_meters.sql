-- Meter history every 10 s. MMAIN: grid connection point, KW_tot positive = export.
-- MAUX: auxiliary load meter, KW_tot = the aux consumption (positive).
-- kwh_import / kwh_export are the meter's cumulative energy registers.

CREATE TABLE MMAIN (
    ts         DATETIME NOT NULL,
    I_a        DOUBLE   NOT NULL,
    I_b        DOUBLE   NOT NULL,
    I_c        DOUBLE   NOT NULL,
    Vll_ab     DOUBLE   NOT NULL,
    Vll_bc     DOUBLE   NOT NULL,
    Vll_ca     DOUBLE   NOT NULL,
    KW_tot     DOUBLE   NOT NULL,
    KVAR_tot   DOUBLE   NOT NULL,
    PF         DOUBLE   NOT NULL,
    freq       DOUBLE   NOT NULL,
    kwh_import DOUBLE   NOT NULL,
    kwh_export DOUBLE   NOT NULL,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;

CREATE TABLE MAUX (
    ts         DATETIME NOT NULL,
    I_a        DOUBLE   NOT NULL,
    I_b        DOUBLE   NOT NULL,
    I_c        DOUBLE   NOT NULL,
    Vll_ab     DOUBLE   NOT NULL,
    Vll_bc     DOUBLE   NOT NULL,
    Vll_ca     DOUBLE   NOT NULL,
    KW_tot     DOUBLE   NOT NULL,
    KVAR_tot   DOUBLE   NOT NULL,
    PF         DOUBLE   NOT NULL,
    freq       DOUBLE   NOT NULL,
    kwh_import DOUBLE   NOT NULL,
    kwh_export DOUBLE   NOT NULL,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;
