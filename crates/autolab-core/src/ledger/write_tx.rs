//! Write transactions that other processes cannot make stale. The ledger is shared (`autolab
//! cancel`, `steer`, the dashboard write to it while a campaign runs): a deferred transaction
//! that reads and then writes fails at once with "database is locked" when another process
//! committed in between (SQLite cannot wait that out). So a top-level write transaction takes
//! the write lock first (`BEGIN IMMEDIATE`, waiting for other writers within the busy
//! timeout); inside one, writes nest as savepoints.

use std::ops::Deref;

use rusqlite::{Connection, Savepoint, Transaction, TransactionBehavior};

pub(crate) enum WriteTx<'c> {
    Top(Transaction<'c>),
    Nested(Savepoint<'c>),
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Top(t) => t,
            WriteTx::Nested(s) => s,
        }
    }
}

impl WriteTx<'_> {
    pub fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Top(t) => t.commit(),
            WriteTx::Nested(s) => s.commit(),
        }
    }
}

/// Begins a write: immediate at the top level, a savepoint inside a transaction.
pub(crate) fn write_tx(conn: &mut Connection) -> rusqlite::Result<WriteTx<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map(WriteTx::Top)
    } else {
        conn.savepoint().map(WriteTx::Nested)
    }
}
