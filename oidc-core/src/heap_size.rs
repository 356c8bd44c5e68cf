//! Estimates of the heap memory a value holds, for the caches that are bounded by memory
//! (each worker's token verdicts): their documented bound only holds if an entry is
//! charged what it really takes, decoded claims included, and not a guess from the size
//! of the token. The estimates err on the high side: they include what the allocator
//! adds to each block (glibc's malloc: a size word, 16-byte rounding, 32 bytes at
//! least), and they assume half-full B-tree nodes.

use serde_json::{Map, Value};

/// What the allocator takes for a request of `n` bytes (0: no allocation).
pub fn block(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// A `String`'s buffer.
pub fn string(s: &String) -> usize {
    block(s.capacity())
}

/// One node of std's B-tree map of `String` to `Value`: 11 keys and 11 values, the
/// parent link and two counters (`size_of` cannot see it: the node type is private).
const BTREE_LEAF: usize = 11 * (core::mem::size_of::<String>() + core::mem::size_of::<Value>()) + 8 + 4;
/// A node with children also holds 12 child links.
const BTREE_INTERNAL: usize = BTREE_LEAF + 12 * 8;

/// A JSON object (serde_json's `Map`, a B-tree here): its nodes, keys and values.
pub fn json_object(m: &Map<String, Value>) -> usize {
    let n = m.len();
    if n == 0 {
        return 0;
    }
    // Up to 11 entries fit in the root alone; past that, nodes are at least half full
    // (5 of 11), with an internal node per six leaves at most.
    let leaves = if n <= 11 { 1 } else { n.div_ceil(5) };
    let internal = if leaves > 1 { leaves.div_ceil(6) } else { 0 };
    let nodes = leaves * block(BTREE_LEAF) + internal * block(BTREE_INTERNAL);
    nodes + m.iter().map(|(k, v)| string(k) + json_value(v)).sum::<usize>()
}

/// A JSON value's heap memory (not the `Value` itself, which lives in its parent).
pub fn json_value(v: &Value) -> usize {
    match v {
        Value::String(s) => string(s),
        Value::Array(a) => block(a.capacity() * core::mem::size_of::<Value>()) + a.iter().map(json_value).sum::<usize>(),
        Value::Object(m) => json_object(m),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use serde_json::json;

    use super::*;

    /// Counts the bytes this thread holds, so the estimate can be compared with what a
    /// value really allocated (the test binary's allocator: tests run on many threads,
    /// each sees only its own).
    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    fn count(delta: isize) {
        let _ = LIVE.try_with(|c| c.set(c.get() + delta));
    }

    // SAFETY: every call is passed on to the system allocator unchanged; the counter is a
    // const-initialized thread-local without destructor, which never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            // SAFETY: as the caller promised for `layout`.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(-(layout.size() as isize));
            // SAFETY: `ptr` came from `alloc` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    fn live() -> isize {
        LIVE.with(Cell::get)
    }

    /// Parses `text` as claims and returns (bytes it really allocated, the estimate).
    fn measured(text: &str) -> (usize, usize) {
        let before = live();
        let claims: Map<String, Value> = serde_json::from_str(text).unwrap();
        let held = (live() - before) as usize;
        let estimate = json_object(&claims);
        drop(claims);
        (held, estimate)
    }

    fn token_claims(groups: usize) -> String {
        json!({
            "iss": "https://op.example.org", "sub": "api-client-0123456789", "aud": "https://api.example.org",
            "client_id": "api-client", "scope": "movies:read movies:write", "iat": 1700000000, "exp": 1700000300,
            "jti": "minted-12345-1700000000000-1",
            "groups": (1..=groups).map(|i| format!("group-with-a-fairly-long-name-{i}")).collect::<Vec<_>>(),
            "realm_access": { "roles": ["offline_access", "uma_authorization"] },
        })
        .to_string()
    }

    #[test]
    fn estimate_covers_what_parsed_claims_hold() {
        for groups in [0, 1, 12, 40, 90, 400] {
            let (held, estimate) = measured(&token_claims(groups));
            assert!(estimate >= held, "{groups} groups: estimate {estimate} < allocated {held}");
            // Not so high that the cache holds far fewer entries than it could.
            assert!(estimate <= 2 * held + 2048, "{groups} groups: estimate {estimate} for {held} allocated");
        }
    }

    #[test]
    fn many_small_claims() {
        let obj: Map<String, Value> = (0..100).map(|i| (format!("claim_{i}"), json!(i))).collect();
        let (held, estimate) = measured(&Value::Object(obj).to_string());
        assert!(estimate >= held && estimate <= 2 * held + 2048, "estimate {estimate}, allocated {held}");
    }

    #[test]
    fn blocks() {
        assert_eq!(block(0), 0);
        assert_eq!(block(1), 32);
        assert_eq!(block(24), 32);
        assert_eq!(block(25), 48);
        assert_eq!(block(4096), 4112);
    }
}
