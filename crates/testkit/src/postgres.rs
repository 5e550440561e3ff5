//! A fresh PostgreSQL database per test, so tests run in parallel without sharing rows.

use tokio_postgres::NoTls;

use crate::infra;

/// A database created for one test; [`TestDatabase::drop_database`] removes it.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection URL of the new database.
    pub url: String,
    /// Its name.
    pub name: String,
    admin_url: String,
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let connecting = tokio_postgres::connect(url, NoTls);
    let (client, connection) = match tokio::time::timeout(infra::CONNECT_TIMEOUT, connecting).await
    {
        Ok(Ok(pair)) => pair,
        Ok(Err(error)) => infra::unavailable("PostgreSQL", url, &error),
        Err(_) => infra::unavailable("PostgreSQL", url, &"connection timed out"),
    };
    tokio::spawn(connection);
    client
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = match base.rfind('/') {
        Some(slash) if slash > base.find("//").map_or(0, |i| i + 1) => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

impl TestDatabase {
    /// Creates an empty database with a unique name on the configured server.
    pub async fn create() -> Self {
        let admin_url = with_database(&infra::postgres_url(), "postgres");
        let name = crate::unique_name("test");
        let admin = connect(&admin_url).await;
        if let Err(error) = admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            infra::unavailable("PostgreSQL", &admin_url, &error);
        }
        Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// A connected client for the test database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(self) {
        let admin = connect(&self.admin_url).await;
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = admin.batch_execute(&sql).await {
            panic!("could not drop test database {}: {error}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/app", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/app?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
