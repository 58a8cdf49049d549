-- Each user's notification preferences (GET/PUT /api/v1/me/notifications): the channels alerts are
-- sent to for them, as the JSON array the API validated, and quiet hours in site time (HH:MM).
-- One row per user that ever saved preferences; none means no channels and no quiet hours.

CREATE TABLE notification_prefs (
    user_id     BIGINT UNSIGNED NOT NULL,
    channels    TEXT             NOT NULL,
    quiet_start CHAR(5)          NULL,
    quiet_end   CHAR(5)          NULL,
    updated_at  DATETIME         NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT fk_notification_prefs_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
