//! Splitting a cookie value that is too large for one cookie over several, and putting
//! it back together. Browsers keep at most about 4096 bytes per cookie (name, value and
//! attributes). The first cookie carries the count: `NAME=<n>:<part1>`, then `NAME_2`
//! ... `NAME_n`. A value that fits is stored as is (`NAME=<value>`). Sealed values are
//! base64url, so the `:` cannot be confused with the value.

/// Value bytes per cookie, leaving room for the name and attributes.
pub const CHUNK_SIZE: usize = 3800;
/// A session spread over more cookies than this is refused (and never written).
pub const MAX_CHUNKS: usize = 8;

use std::borrow::Cow;

/// The name of chunk `i` (1-based).
pub fn chunk_name(base: &str, i: usize) -> String {
    if i == 1 {
        base.to_owned()
    } else {
        format!("{base}_{i}")
    }
}

/// `(name, value)` pairs to set for `value`, or None when it is too large.
pub fn split(base: &str, value: &str) -> Option<Vec<(String, String)>> {
    if value.len() <= CHUNK_SIZE {
        return Some(vec![(base.to_owned(), value.to_owned())]);
    }
    // The count prefix takes a few bytes of the first chunk.
    let n = value.len().div_ceil(CHUNK_SIZE - 4);
    if n > MAX_CHUNKS {
        return None;
    }
    let size = value.len().div_ceil(n);
    let parts: Vec<&str> = value.as_bytes().chunks(size).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    Some(
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let v = if i == 0 { format!("{}:{p}", parts.len()) } else { (*p).to_owned() };
                (chunk_name(base, i + 1), v)
            })
            .collect(),
    )
}

/// Reassembles a value from the browser's cookies; `get` looks a cookie up by name.
/// Returns None when a chunk is missing. A value in one cookie is borrowed, not copied.
pub fn join<'a>(base: &str, get: impl Fn(&str) -> Option<&'a str>) -> Option<Cow<'a, str>> {
    let first = get(base)?;
    let Some((count, part)) = first.split_once(':') else {
        return Some(Cow::Borrowed(first));
    };
    let n: usize = count.parse().ok().filter(|n| (2..=MAX_CHUNKS).contains(n))?;
    let mut value = String::with_capacity(n * CHUNK_SIZE);
    value.push_str(part);
    for i in 2..=n {
        value.push_str(get(&chunk_name(base, i))?);
    }
    Some(Cow::Owned(value))
}

/// How many chunks the browser's current value has (to clear stale ones).
pub fn count_present<'a>(base: &str, get: impl Fn(&str) -> Option<&'a str>) -> usize {
    (1..=MAX_CHUNKS).take_while(|&i| get(&chunk_name(base, i)).is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn jar(pairs: &[(String, String)]) -> HashMap<String, String> {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn small_values_are_one_cookie() {
        let s = split("S", "abc").unwrap();
        assert_eq!(s, vec![("S".to_string(), "abc".to_string())]);
        let j = jar(&s);
        assert_eq!(join("S", |n| j.get(n).map(String::as_str)).unwrap(), "abc");
    }

    #[test]
    fn large_values_round_trip() {
        let value: String = (0..10_000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let s = split("S", &value).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(_, v)| v.len() <= CHUNK_SIZE));
        assert_eq!(s[1].0, "S_2");
        let j = jar(&s);
        assert_eq!(join("S", |n| j.get(n).map(String::as_str)).unwrap(), value);
        assert_eq!(count_present("S", |n| j.get(n).map(String::as_str)), 3);
        let mut missing = j.clone();
        missing.remove("S_3");
        assert!(join("S", |n| missing.get(n).map(String::as_str)).is_none());
    }

    #[test]
    fn too_large_refused() {
        assert!(split("S", &"a".repeat(CHUNK_SIZE * MAX_CHUNKS + 1)).is_none());
        let j: HashMap<String, String> = [("S".to_string(), "99:x".to_string())].into();
        assert!(join("S", |n| j.get(n).map(String::as_str)).is_none());
    }
}
