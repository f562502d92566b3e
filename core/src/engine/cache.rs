//! A bounded map shared by concurrent checks that never makes a check wait:
//! when its lock is busy, a lookup misses and an insert is skipped. And a
//! fast hasher for maps whose keys the engine controls.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::RwLock;

#[derive(Debug)]
pub(crate) struct BoundedCache<K, V, S = RandomState> {
    map: RwLock<HashMap<K, V, S>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone, S: BuildHasher + Default> BoundedCache<K, V, S> {
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            map: RwLock::new(HashMap::default()),
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

    /// Remembers `value` unless the cache is busy; a full cache is emptied
    /// first (for keys that come and go, such as request times).
    pub fn insert_evicting(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.try_write() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(key, value);
        }
    }
}

/// The Fx hash (rustc's): a multiply and a rotate per word. SipHash, the
/// default, costs several times more on the short keys of the request path
/// (entity uids, candidate lists). Only for maps whose keys come from the
/// compiled bundle: request input is only ever looked up, never inserted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

#[derive(Debug)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(rest) {
                *w = *b;
            }
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fx_hash_separates_keys() {
        let h = |b: &[u8]| {
            let mut s = FxBuild.build_hasher();
            s.write(b);
            s.finish()
        };
        assert_ne!(h(b"abc"), h(b"abd"));
        assert_ne!(h(b"abcdefgh1"), h(b"abcdefgh2"));
        let mut m: FxMap<Vec<u32>, u32> = FxMap::default();
        for i in 0..1000u32 {
            m.insert(vec![i, i + 1], i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get([7u32, 8].as_slice()), Some(&7));
    }
}
