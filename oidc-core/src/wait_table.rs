//! The table of suspended requests of one worker, keyed twice: by a wait id (unique per
//! suspension, never reused) and by what they wait for (a document or a job key).
//!
//! The request handle `R` is an nginx request pointer in the module. nginx reuses the
//! addresses of freed requests, so the table never identifies a suspension by its
//! request: a suspension is its wait id, the request's context keeps it, and every way
//! out (delivery, watchdog, the request's pool being freed) removes the id from both
//! maps. A late delivery for a key can therefore only reach a request that still waits
//! under an id listed for that key, never an unrelated request at a recycled address.

use std::collections::HashMap;

pub struct WaitTable<R> {
    next_id: u64,
    /// wait id -> (key waited for, request)
    waiting: HashMap<u64, (u64, R)>,
    /// key -> wait ids, in suspension order
    by_key: HashMap<u64, Vec<u64>>,
}

impl<R: Copy> Default for WaitTable<R> {
    fn default() -> Self {
        WaitTable { next_id: 1, waiting: HashMap::new(), by_key: HashMap::new() }
    }
}

impl<R: Copy> WaitTable<R> {
    /// Registers `r` as waiting for `key`; returns its wait id (never 0, never reused).
    pub fn add(&mut self, key: u64, r: R) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.insert(id, (key, r));
        self.by_key.entry(key).or_default().push(id);
        id
    }

    /// Removes one suspension from both maps; returns its request if it was waiting.
    pub fn remove(&mut self, id: u64) -> Option<R> {
        let (key, r) = self.waiting.remove(&id)?;
        if let Some(list) = self.by_key.get_mut(&key) {
            list.retain(|x| *x != id);
            if list.is_empty() {
                self.by_key.remove(&key);
            }
        }
        Some(r)
    }

    /// The wait ids listed for `key`, which is forgotten. Each must then be taken with
    /// `remove` one at a time: resuming one request may end another of the list.
    pub fn take_key(&mut self, key: u64) -> Vec<u64> {
        self.by_key.remove(&key).unwrap_or_default()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.waiting.contains_key(&id)
    }

    /// Suspensions and key lists held (both are zero when nothing waits).
    pub fn sizes(&self) -> (usize, usize) {
        (self.waiting.len(), self.by_key.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut WaitTable<usize>, key: u64) -> Vec<usize> {
        t.take_key(key).into_iter().filter_map(|id| t.remove(id)).collect()
    }

    #[test]
    fn delivers_to_the_waiters_of_a_key() {
        let mut t = WaitTable::default();
        t.add(7, 100);
        t.add(7, 200);
        t.add(8, 300);
        assert_eq!(drain(&mut t, 7), vec![100, 200]);
        assert_eq!(drain(&mut t, 7), Vec::<usize>::new());
        assert_eq!(drain(&mut t, 8), vec![300]);
        assert_eq!(t.sizes(), (0, 0));
    }

    // The defect of issue 10 item 8: after a watchdog, the request stayed listed under
    // its key; nginx reused its address for a request waiting on something else, and a
    // late delivery for the first key resumed that unrelated request.
    #[test]
    fn a_recycled_address_is_not_reached_after_a_watchdog() {
        let mut t = WaitTable::default();
        let first = t.add(7, 0xdead);
        assert_eq!(t.remove(first), Some(0xdead)); // watchdog: 504, request freed
        let second = t.add(9, 0xdead); // same address, another job
        assert_eq!(drain(&mut t, 7), Vec::<usize>::new(), "the late delivery must reach nobody");
        assert!(t.contains(second));
        assert_eq!(drain(&mut t, 9), vec![0xdead]);
        assert_eq!(t.sizes(), (0, 0));
    }

    #[test]
    fn a_freed_request_leaves_no_trace() {
        let mut t = WaitTable::default();
        let a = t.add(7, 1);
        t.add(7, 2);
        assert_eq!(t.remove(a), Some(1)); // pool cleanup
        assert_eq!(t.remove(a), None);
        assert_eq!(drain(&mut t, 7), vec![2]);
        assert_eq!(t.sizes(), (0, 0), "no key list left behind");
    }

    #[test]
    fn an_entry_removed_during_delivery_is_skipped() {
        let mut t = WaitTable::default();
        t.add(7, 1);
        let b = t.add(7, 2);
        let ids = t.take_key(7);
        assert_eq!(t.remove(ids[0]), Some(1));
        t.remove(b); // resuming the first freed the second
        assert_eq!(t.remove(ids[1]), None);
    }

    #[test]
    fn wait_ids_are_never_reused() {
        let mut t = WaitTable::default();
        let a = t.add(1, 1);
        t.remove(a);
        let b = t.add(1, 1);
        assert_ne!(a, b);
        assert_ne!(a, 0);
    }
}
