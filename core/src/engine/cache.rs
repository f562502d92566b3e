//! A bounded map shared by concurrent checks that never makes a check wait:
//! when its lock is busy, a lookup misses and an insert is skipped.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    map: RwLock<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> BoundedCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.try_read().ok()?.get(key).cloned()
    }

    /// Remembers `value` unless the cache is full or busy.
    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.try_write() {
            if map.len() < self.capacity {
                map.insert(key, value);
            }
        }
    }
}
