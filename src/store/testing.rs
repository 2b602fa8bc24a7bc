//! The store's tests on both backends: [`TestStore`] is a fresh SQLite store or, when
//! `IAMGATE_TEST_DATABASE_URL` is set, a PostgreSQL store on a fresh database of its own, and
//! [`on_both_backends!`] runs a test body on each (`<test>::sqlite`, `<test>::postgres`). Raw SQL
//! in the tests is written to mean the same on both.

use std::time::Duration;

use super::Store;
use super::postgres::{PostgresStore, ScratchDatabase};
use super::sqlite::{Pruned, SqliteStore};

#[derive(Debug)]
pub(crate) enum TestStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore, Box<ScratchDatabase>),
}

impl TestStore {
    pub(crate) async fn sqlite() -> TestStore {
        TestStore::Sqlite(
            SqliteStore::open("sqlite::memory:", crate::audit::key::test_keys())
                .await
                .expect("open"),
        )
    }

    /// `None` when no test server is configured.
    pub(crate) async fn postgres() -> Option<TestStore> {
        let db = ScratchDatabase::create().await?;
        let store = PostgresStore::open(&db.url, crate::audit::key::test_keys())
            .await
            .expect("open");
        Some(TestStore::Postgres(store, Box::new(db)))
    }

    pub(crate) async fn finish(self) {
        match self {
            TestStore::Sqlite(store) => store.close().await,
            TestStore::Postgres(store, db) => {
                store.close().await;
                ScratchDatabase::drop(*db).await;
            }
        }
    }

    pub(crate) async fn prune(&self, retain: Duration, limit: u32) -> super::StoreResult<Pruned> {
        match self {
            TestStore::Sqlite(store) => store.prune(retain, limit).await,
            TestStore::Postgres(store, _) => store.prune(retain, limit).await,
        }
    }

    pub(crate) async fn execute(&self, sql: &str) {
        let sql_ = || sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            TestStore::Sqlite(store) => sqlx::query(sql_())
                .execute(store.read_pool())
                .await
                .map(drop),
            TestStore::Postgres(store, _) => {
                sqlx::query(sql_()).execute(store.pool()).await.map(drop)
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub(crate) async fn i64s(&self, sql: &str) -> Vec<i64> {
        let sql_ = || sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            TestStore::Sqlite(store) => {
                sqlx::query_scalar(sql_())
                    .fetch_all(store.read_pool())
                    .await
            }
            TestStore::Postgres(store, _) => {
                sqlx::query_scalar(sql_()).fetch_all(store.pool()).await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub(crate) async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        let sql_ = || sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            TestStore::Sqlite(store) => {
                sqlx::query_scalar(sql_())
                    .fetch_all(store.read_pool())
                    .await
            }
            TestStore::Postgres(store, _) => {
                sqlx::query_scalar(sql_()).fetch_all(store.pool()).await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        match self {
            TestStore::Sqlite(store) => store,
            TestStore::Postgres(store, _) => store,
        }
    }
}

/// For each `name`, a module `name` with the tests `sqlite` and `postgres`, each running
/// `async fn name(store: &TestStore)` on a fresh store of its backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let store = $crate::store::TestStore::sqlite().await;
                super::$name(&store).await;
                store.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(store) = $crate::store::TestStore::postgres().await else {
                    return;
                };
                super::$name(&store).await;
                store.finish().await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;
