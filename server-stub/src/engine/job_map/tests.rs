//! `JobMap` against `std`'s `HashMap` under random operations, with the
//! real hasher and with hashers that make keys collide.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone, PartialEq)]
struct Value {
    key: String,
    n: u32,
}

impl Keyed for Value {
    fn key(&self) -> &str {
        &self.key
    }
}

/// Hashes every key to one of five hash-bit values whose home slots are the
/// last three and the first two of a 16-slot table: long probe runs that
/// wrap around the end, and different keys with equal hash bits (only the
/// key comparison tells them apart).
#[derive(Debug, Default, Clone)]
struct Clumped;

#[derive(Default)]
struct ClumpedHasher(u64);

impl Hasher for ClumpedHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 += bytes.iter().map(|&b| u64::from(b)).sum::<u64>();
    }
    fn finish(&self) -> u64 {
        (13 + self.0 % 5) << 32
    }
}

impl BuildHasher for Clumped {
    type Hasher = ClumpedHasher;
    fn build_hasher(&self) -> ClumpedHasher {
        ClumpedHasher::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, u32),
    Remove(usize),
    Clear,
}

fn key(i: usize) -> String {
    format!("job_{i}")
}

fn ops(keys: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0..keys, any::<u32>()).prop_map(|(k, n)| Op::Insert(k, n)),
        4 => (0..keys).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ];
    proptest::collection::vec(op, 0..300)
}

/// Every slot points at a distinct entry whose key hashes to the slot's
/// bits, every entry has one slot, and each is reachable from its home
/// without crossing an empty slot.
fn check_invariants<S: BuildHasher>(map: &JobMap<Value, S>) {
    let occupied: Vec<u64> = map.slots.iter().copied().filter(|&s| s != EMPTY).collect();
    assert_eq!(occupied.len(), map.entries.len(), "one slot per entry");
    assert!(map.entries.len() * 2 <= map.slots.len() || map.slots.is_empty());
    let mut seen = vec![false; map.entries.len()];
    for slot in occupied {
        let index = index_of(slot);
        assert!(
            !std::mem::replace(&mut seen[index], true),
            "two slots for entry {index}"
        );
        assert_eq!(hash_bits(slot), map.hash(map.entries[index].key()));
    }
    for value in &map.entries {
        assert_eq!(
            map.get(value.key()),
            Some(value),
            "{} unreachable",
            value.key
        );
    }
}

fn run<S: BuildHasher + Default>(keys: usize, ops: &[Op]) {
    let mut map: JobMap<Value, S> = JobMap::default();
    let mut model: HashMap<String, u32> = HashMap::new();
    for op in ops {
        match *op {
            Op::Insert(k, n) => {
                let value = Value { key: key(k), n };
                assert_eq!(map.insert(value), Ok(()));
                model.insert(key(k), n);
            }
            Op::Remove(k) => {
                let removed = map.remove(&key(k)).map(|v| (v.key, v.n));
                assert_eq!(removed, model.remove(&key(k)).map(|n| (key(k), n)));
            }
            Op::Clear => {
                map.clear();
                model.clear();
            }
        }
        check_invariants(&map);
        assert_eq!(map.len(), model.len());
        assert_eq!(map.is_empty(), model.is_empty());
        for k in 0..keys {
            assert_eq!(map.get(&key(k)).map(|v| v.n), model.get(&key(k)).copied());
            assert_eq!(map.contains_key(&key(k)), model.contains_key(&key(k)));
        }
    }
}

proptest! {
    #[test]
    fn behaves_as_a_hash_map(ops in ops(40)) {
        run::<RandomState>(40, &ops);
    }

    #[test]
    fn behaves_as_a_hash_map_when_keys_collide(ops in ops(40)) {
        run::<Clumped>(40, &ops);
    }
}

#[test]
fn get_mut_changes_the_stored_value() {
    let mut map: JobMap<Value> = JobMap::default();
    for i in 0..100 {
        map.insert(Value { key: key(i), n: 0 }).unwrap();
    }
    map.get_mut("job_42").unwrap().n = 7;
    assert_eq!(map.get("job_42").map(|v| v.n), Some(7));
    assert_eq!(map.values().filter(|v| v.n == 7).count(), 1);
    assert!(map.get_mut("job_100").is_none());
}

#[test]
fn grows_and_shrinks_through_many_entries() {
    let mut map: JobMap<Value, Clumped> = JobMap::default();
    for i in 0..2_000 {
        map.insert(Value {
            key: key(i),
            n: i as u32,
        })
        .unwrap();
    }
    check_invariants(&map);
    assert_eq!(map.slots.len(), 4096);
    // Remove from the front: every removal moves the last entry.
    for i in 0..1_500 {
        assert_eq!(map.remove(&key(i)).map(|v| v.n), Some(i as u32));
    }
    check_invariants(&map);
    assert_eq!(map.len(), 500);
    assert_eq!(map.get("job_1999").map(|v| v.n), Some(1999));
    map.clear();
    assert!(map.is_empty() && map.slots.is_empty() && map.get("job_1999").is_none());
}

#[test]
fn an_empty_map_finds_nothing() {
    let mut map: JobMap<Value> = JobMap::default();
    assert!(map.get("job_0").is_none());
    assert!(map.remove("job_0").is_none());
    assert!(!map.contains_key(""));
}

#[test]
fn a_full_map_refuses_new_keys_but_still_replaces() {
    let mut map: JobMap<Value> = JobMap::default();
    for i in 0..MAX_ENTRIES {
        map.insert(Value { key: key(i), n: 0 }).unwrap();
    }
    let one_more = Value {
        key: key(MAX_ENTRIES),
        n: 0,
    };
    assert_eq!(map.insert(one_more), Err(Full));
    assert_eq!(map.len(), MAX_ENTRIES);
    assert!(map.get(&key(MAX_ENTRIES)).is_none());
    assert_eq!(map.insert(Value { key: key(7), n: 9 }), Ok(()));
    assert_eq!(map.get(&key(7)).map(|v| v.n), Some(9));
    check_invariants(&map);
}
