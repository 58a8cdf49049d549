-- The three roles of DOMAIN.md and their permissions.
-- viewer: telemetry:read, trading:read; operator: viewer + alerts:ack; admin: every permission.

INSERT INTO permissions (name, description) VALUES
    ('telemetry:read', 'Read live and historical telemetry'),
    ('trading:read',   'Read schedule, income and execution rates'),
    ('alerts:ack',     'Acknowledge alerts'),
    ('users:admin',    'Manage users and their roles');

INSERT INTO roles (name, description) VALUES
    ('viewer',   'Read-only access to telemetry and trading'),
    ('operator', 'Viewer plus alert acknowledgement'),
    ('admin',    'Every permission, including user administration');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p
    ON p.name IN ('telemetry:read', 'trading:read')
WHERE r.name = 'viewer';

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p
    ON p.name IN ('telemetry:read', 'trading:read', 'alerts:ack')
WHERE r.name = 'operator';

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p
WHERE r.name = 'admin';
