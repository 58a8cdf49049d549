//! Store connections kept for the life of the component instance.
//!
//! Spin 4 reuses a WASIp3 instance for many requests (128 by default), and a connection the guest
//! holds lives as long as the instance: keeping one per server turns "a new MySQL and Redis
//! connection for every request" into a handful per instance. This is the only state that may
//! outlive a request: connections, keyed by server address, never a caller, token, row or response.
//!
//! Requests on one instance do not interleave inside a handler (store calls are synchronous, so a
//! handler runs start to end without yielding), so a kept connection is never used by two requests
//! at once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// One kept connection and what the instance must know about it between requests.
pub struct Kept<C> {
    pub conn: C,
    pub address: String,
    /// A transaction was begun and not yet ended; `Stores` rolls it back when its request ends.
    pub in_transaction: Cell<bool>,
}

/// The connections of one kind (MySQL or Redis) an instance holds, by address.
pub struct Pool<C> {
    open: RefCell<Vec<Rc<Kept<C>>>>,
}

impl<C> Pool<C> {
    pub const fn new() -> Self {
        Pool {
            open: RefCell::new(Vec::new()),
        }
    }

    /// The kept connection to `address`, opened with `open` the first time.
    pub fn get_or_open<E>(
        &self,
        address: &str,
        open: impl FnOnce(&str) -> Result<C, E>,
    ) -> Result<Rc<Kept<C>>, E> {
        if let Some(kept) = self.open.borrow().iter().find(|k| k.address == address) {
            return Ok(kept.clone());
        }
        let kept = Rc::new(Kept {
            conn: open(address)?,
            address: address.to_owned(),
            in_transaction: Cell::new(false),
        });
        self.open.borrow_mut().push(kept.clone());
        Ok(kept)
    }

    /// Drops the kept connection to `address` (it broke): the next use opens a new one. The
    /// connection closes when the last request holding it lets go.
    pub fn forget(&self, address: &str) {
        self.open.borrow_mut().retain(|k| k.address != address);
    }

    pub fn len(&self) -> usize {
        self.open.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<C> Default for Pool<C> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_per_address_until_forgotten() {
        let pool: Pool<u32> = Pool::new();
        let mut opened = 0;
        let mut open = |_: &str| -> Result<u32, ()> {
            opened += 1;
            Ok(opened)
        };
        let a = pool.get_or_open("mysql://a", &mut open).unwrap();
        let again = pool.get_or_open("mysql://a", &mut open).unwrap();
        let b = pool.get_or_open("mysql://b", &mut open).unwrap();
        assert_eq!((a.conn, again.conn, b.conn), (1, 1, 2));
        pool.forget("mysql://a");
        assert_eq!(pool.len(), 1);
        let reopened = pool.get_or_open("mysql://a", &mut open).unwrap();
        assert_eq!(reopened.conn, 3);
    }

    #[test]
    fn a_failed_open_keeps_nothing() {
        let pool: Pool<u32> = Pool::new();
        let failed: Result<_, &str> = pool.get_or_open("redis://down", |_| Err("refused"));
        assert!(failed.is_err());
        assert!(pool.is_empty());
    }
}
