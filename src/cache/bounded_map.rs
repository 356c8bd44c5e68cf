//! The table behind the per-worker caches: a map bounded by entry count and by an
//! estimate of memory. Past either bound the expired entries go, and if that is not
//! enough the table starts over (a burst of distinct cookies or tokens must not grow
//! the worker, and a cache miss only costs the slow path once).

use std::collections::HashMap;
use std::hash::Hash;

use super::fast_hash::BuildWordHasher;

/// What the map needs to know of an entry.
pub trait Bounded {
    /// Estimated memory the entry holds.
    fn cost(&self) -> usize;
    fn expired(&self, now: i64) -> bool;
}

pub struct BoundedMap<K, E> {
    map: HashMap<K, E, BuildWordHasher>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl<K: Hash + Eq, E: Bounded> BoundedMap<K, E> {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        BoundedMap { map: HashMap::default(), bytes: 0, max_entries, max_bytes }
    }

    pub fn get(&self, key: &K) -> Option<&E> {
        self.map.get(key)
    }

    /// For changes that keep the entry's cost.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut E> {
        self.map.get_mut(key)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &E) -> bool) {
        self.map.retain(|k, e| keep(k, e));
        self.bytes = self.map.values().map(Bounded::cost).sum();
    }

    pub fn insert(&mut self, key: K, entry: E, now: i64) {
        let new = entry.cost();
        if self.full(new) {
            self.map.retain(|_, e| !e.expired(now));
            self.bytes = self.map.values().map(Bounded::cost).sum();
            if self.full(new) {
                self.map.clear();
                self.bytes = 0;
            }
        }
        if let Some(old) = self.map.insert(key, entry) {
            self.bytes -= old.cost();
        }
        self.bytes += new;
    }

    pub fn remove(&mut self, key: &K) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= old.cost();
        }
    }

    fn full(&self, new: usize) -> bool {
        self.map.len() >= self.max_entries || self.bytes + new > self.max_bytes
    }
}
