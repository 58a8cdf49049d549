//! A throw-away site for one test: databases named `<prefix><name>` with their migrations applied,
//! Redis keys under `<prefix>`, users with known passwords, and the variables pointing the app at
//! them. Everything it made is removed by `cleanup` (and only that).

#![allow(dead_code)]

use mysql_async::prelude::Queryable;
use solarhub_shared::schema::{split_statements, Database};

pub const MYSQL: &str = "mysql://root@127.0.0.1:3306";
pub const REDIS: &str = "redis://127.0.0.1:6379";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Site {
    pub prefix: String,
    pub jwt_secret: String,
    created: Vec<Database>,
}

impl Site {
    /// Creates and migrates `dbs` (others are not created; the app only touches what it needs).
    pub async fn new(tag: &str, dbs: &[Database]) -> Site {
        let prefix = super::unique_prefix(tag);
        let mut conn = mysql_async::Conn::from_url(MYSQL).await.unwrap();
        for db in dbs {
            let name = format!("{prefix}{}", db.default_name());
            conn.query_drop(format!("CREATE DATABASE `{name}`"))
                .await
                .unwrap();
            conn.query_drop(format!("USE `{name}`")).await.unwrap();
            for migration in db.migrations() {
                for statement in split_statements(migration.sql) {
                    conn.query_drop(statement)
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", migration.file));
                }
            }
        }
        conn.disconnect().await.unwrap();
        let jwt_secret = format!("test-secret-{prefix}-0123456789abcdef0123456789");
        Site {
            prefix,
            jwt_secret,
            created: dbs.to_vec(),
        }
    }

    pub fn db_name(&self, db: Database) -> String {
        format!("{}{}", self.prefix, db.default_name())
    }

    /// Variables for the app: every database URL (uncreated ones point at names that do not
    /// exist), the Redis key prefix and the JWT secret.
    pub fn variables(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = Database::ALL
            .iter()
            .map(|db| (db.variable(), format!("{MYSQL}/{}", self.db_name(*db))))
            .collect();
        vars.push(("redis_key_prefix".into(), self.prefix.clone()));
        vars.push(("jwt_secret".into(), self.jwt_secret.clone()));
        vars
    }

    pub async fn mysql(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(format!("{MYSQL}/{}", self.db_name(Database::Ess)))
            .await
            .unwrap()
    }

    /// Inserts a user with `password_hash` and the given roles; returns its id.
    pub async fn add_user_with_hash(
        &self,
        username: &str,
        password_hash: &str,
        roles: &[&str],
        active: bool,
    ) -> u64 {
        let mut conn = self.mysql().await;
        conn.exec_drop(
            "INSERT INTO users (username, email, full_name, password_hash, active) VALUES (?, ?, ?, ?, ?)",
            (username, format!("{username}@example.test"), format!("{username} Example"), password_hash, active),
        )
        .await
        .unwrap();
        let id = conn.last_insert_id().unwrap();
        for role in roles {
            conn.exec_drop(
                "INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = ?",
                (id, *role),
            )
            .await
            .unwrap();
        }
        conn.disconnect().await.unwrap();
        id
    }

    pub async fn add_user(&self, username: &str, roles: &[&str]) -> u64 {
        let hash = solarhub_shared::password::hash_password(PASSWORD).unwrap();
        self.add_user_with_hash(username, &hash, roles, true).await
    }

    pub async fn password_hash(&self, id: u64) -> String {
        let mut conn = self.mysql().await;
        let hash: Option<String> = conn
            .exec_first("SELECT password_hash FROM users WHERE id = ?", (id,))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        hash.unwrap()
    }

    /// Removes what this site created. Dropping the site does the same, so a failing test
    /// leaves nothing behind either.
    pub async fn cleanup(self) {
        drop(self);
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let names: Vec<String> = self.created.iter().map(|db| self.db_name(*db)).collect();
        super::remove_test_stores(names, self.prefix.clone());
    }
}
