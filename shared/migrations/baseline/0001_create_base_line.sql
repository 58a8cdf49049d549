-- Grid frequency baseline every 10 s (Hz).

CREATE TABLE base_line (
    ts   DATETIME NOT NULL,
    freq DOUBLE   NOT NULL,
    PRIMARY KEY (ts)
) ENGINE=InnoDB;
