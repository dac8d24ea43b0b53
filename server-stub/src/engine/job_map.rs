//! [`JobMap`]: the engine's jobs by id, each entry stored once.
//!
//! A `HashMap<String, Box<Entry>>` kept every id twice (the key and
//! `job.id`, a second heap string) and spent 32 bytes per bucket, with about
//! two buckets per job at a million jobs. A `HashTable` of boxed entries,
//! hashed and compared by the entry's own `job.id`, spends 8 bytes per
//! bucket and no extra string: about 80 bytes less per job
//! (`docs/benchmarks.md`).

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::Entry;

#[derive(Debug, Default)]
pub(super) struct JobMap {
    table: HashTable<Box<Entry>>,
    hasher: RandomState,
}

impl JobMap {
    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub(super) fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub(super) fn get(&self, id: &str) -> Option<&Entry> {
        self.table
            .find(self.hash(id), |entry| *entry.job.id == *id)
            .map(|entry| &**entry)
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        let hash = self.hash(id);
        self.table
            .find_mut(hash, |entry| *entry.job.id == *id)
            .map(|entry| &mut **entry)
    }

    /// Stores `entry` under its `job.id`, replacing any entry with that id.
    pub(super) fn insert(&mut self, entry: Box<Entry>) {
        let hash = self.hash(&entry.job.id);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |stored| stored.job.id == entry.job.id,
            |stored| hasher.hash_one(&*stored.job.id),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut occupied) => *occupied.get_mut() = entry,
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(entry);
            }
        }
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<Box<Entry>> {
        let hash = self.hash(id);
        self.table
            .find_entry(hash, |entry| *entry.job.id == *id)
            .ok()
            .map(|occupied| occupied.remove().0)
    }

    pub(super) fn clear(&mut self) {
        self.table.clear();
    }

    #[cfg(test)]
    pub(super) fn values(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter().map(|entry| &**entry)
    }
}
