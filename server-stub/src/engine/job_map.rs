//! [`JobMap`]: the engine's jobs by id, each entry stored once, found with
//! two dependent memory reads.
//!
//! At a million jobs, every read of a lookup is a cache miss and a TLB miss,
//! and each one the next read depends on costs the whole request its
//! latency. Earlier layouts paid three:
//! - a `HashMap<String, Box<Entry>>` kept every id twice (the key and
//!   `job.id`) and spent 32 bytes per bucket;
//! - a `hashbrown::HashTable<Box<Entry>>` read the control bytes, then the
//!   bucket, then the boxed entry.
//!
//! Here a lookup reads one 8-byte slot, which holds 32 bits of the id's
//! hash and the entry's index, then the entry itself in a dense `Vec`.
//! Another id in the slot's probe run is told apart by the hash bits, without
//! reading its entry. At a million jobs a lookup went from 589 to 428 ns
//! (`engine/dependent_lookup`, `docs/benchmarks.md`), and memory from 560
//! to 541 bytes per job: 8 bytes per slot, at most two slots per job, and no
//! allocator header per entry.
//!
//! The table is open addressing with linear probing, at most half full.
//! Removal shifts the rest of the probe run back (no tombstones), and moves
//! the last entry into the removed one's place, so the entries stay dense.

use std::hash::{BuildHasher, RandomState};

/// What [`JobMap`] keys its values by.
pub(super) trait Keyed {
    /// The value's key (a job's id).
    fn key(&self) -> &str;
}

/// Entries by id; see the [module docs](self).
pub(super) struct JobMap<T, S = RandomState> {
    /// `EMPTY`, or `(hash bits << 32) | (index + 1)`. The hash bits are the
    /// top 32 bits of the key's hash; their low bits are the slot the key
    /// starts probing at ([`home`]), so growing the table needs no key.
    /// Length: zero or a power of two.
    slots: Box<[u64]>,
    entries: Vec<T>,
    hasher: S,
}

/// Why a value was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

const EMPTY: u64 = 0;
/// Indexes are stored plus one (zero is `EMPTY`), in 32 bits.
#[cfg(not(test))]
const MAX_ENTRIES: usize = u32::MAX as usize - 1;
/// Low enough for a test to reach.
#[cfg(test)]
const MAX_ENTRIES: usize = 5_000;
const MIN_SLOTS: usize = 16;

fn hash_bits(slot: u64) -> u32 {
    (slot >> 32) as u32
}

fn index_of(slot: u64) -> usize {
    (slot as u32 as usize).wrapping_sub(1)
}

fn slot_for(hash_bits: u32, index: usize) -> u64 {
    (u64::from(hash_bits) << 32) | (index as u64 + 1)
}

/// The slot where a key with these hash bits starts probing.
fn home(hash_bits: u32, mask: usize) -> usize {
    hash_bits as usize & mask
}

impl<T: std::fmt::Debug, S> std::fmt::Debug for JobMap<T, S> {
    /// The entries, and the slot count rather than the slots' raw numbers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobMap")
            .field("slots", &self.slots.len())
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<T, S: Default> Default for JobMap<T, S> {
    fn default() -> Self {
        Self {
            slots: Box::default(),
            entries: Vec::new(),
            hasher: S::default(),
        }
    }
}

impl<T: Keyed, S: BuildHasher> JobMap<T, S> {
    fn hash(&self, key: &str) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The slot holding `key`, if it is stored.
    fn position(&self, key: &str) -> Option<usize> {
        self.find(key, self.hash(key))
    }

    /// [`position`](Self::position), given the key's hash bits.
    fn find(&self, key: &str, bits: u32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut at = home(bits, mask);
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                return None;
            }
            if hash_bits(slot) == bits && self.entries[index_of(slot)].key() == key {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&T> {
        let at = self.position(key)?;
        Some(&self.entries[index_of(self.slots[at])])
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        let at = self.position(key)?;
        Some(&mut self.entries[index_of(self.slots[at])])
    }

    /// Stores `value` under its key, replacing any value with that key.
    pub(super) fn insert(&mut self, value: T) -> Result<(), Full> {
        let bits = self.hash(value.key());
        if let Some(at) = self.find(value.key(), bits) {
            self.entries[index_of(self.slots[at])] = value;
            return Ok(());
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        // At most half full: probe runs stay short.
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let index = self.entries.len();
        self.entries.push(value);
        self.place(slot_for(bits, index));
        Ok(())
    }

    /// Puts `slot` in the first empty slot of its probe run.
    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        let mut at = home(hash_bits(slot), mask);
        while self.slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; len].into_boxed_slice());
        for slot in old.iter().copied().filter(|&slot| slot != EMPTY) {
            self.place(slot);
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<T> {
        let at = self.position(key)?;
        let index = index_of(self.slots[at]);
        self.vacate(at);
        let last = self.entries.len() - 1;
        if index != last {
            // The last entry moves into `index`: repoint its slot.
            let bits = self.hash(self.entries[last].key());
            let mask = self.mask();
            let mut at = home(bits, mask);
            loop {
                let slot = self.slots[at];
                if index_of(slot) == last {
                    self.slots[at] = slot_for(bits, index);
                    break;
                }
                // Unreachable while every entry has its slot; never spin.
                if slot == EMPTY {
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        Some(self.entries.swap_remove(index))
    }

    /// Empties slot `hole`, shifting back the later slots of its probe run
    /// that may move closer to their home (backward-shift deletion), so a
    /// lookup still stops at the first empty slot.
    fn vacate(&mut self, mut hole: usize) {
        let mask = self.mask();
        let mut at = (hole + 1) & mask;
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                break;
            }
            let from_home = at.wrapping_sub(home(hash_bits(slot), mask)) & mask;
            let from_hole = at.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                self.slots[hole] = slot;
                hole = at;
            }
            at = (at + 1) & mask;
        }
        self.slots[hole] = EMPTY;
    }

    pub(super) fn clear(&mut self) {
        // Both given back: a cleared million-job engine keeps no 350 MB.
        self.entries = Vec::new();
        self.slots = Box::default();
    }

    #[cfg(test)]
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests;
