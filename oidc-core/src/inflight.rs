//! Fetches in flight in one worker, each with a deadline and a generation.
//!
//! A document key is "in flight" while a fetch (or a wait for another worker's fetch)
//! is under way; requests that need the document wait instead of starting another.
//! The completion clears the mark. Should a completion never come (a lost result),
//! the mark alone would leave the document pending forever and every request for it
//! would time out: so a mark past its deadline counts as absent, and a new fetch may
//! start. The generation keeps a late completion of the old fetch from clearing the
//! mark of the new one.

use std::collections::HashMap;

#[derive(Default)]
pub struct Inflight {
    next_gen: u64,
    /// key -> (generation, deadline)
    marks: HashMap<u64, (u64, i64)>,
}

impl Inflight {
    /// Marks `key` in flight until `deadline`; returns the generation to finish it with.
    pub fn start(&mut self, key: u64, deadline: i64) -> u64 {
        self.next_gen += 1;
        self.marks.insert(key, (self.next_gen, deadline));
        self.next_gen
    }

    /// Whether a fetch of `key` is under way and within its deadline. A mark past its
    /// deadline is dropped (and reported as `Expired`, for the log).
    pub fn check(&mut self, key: u64, now: i64) -> State {
        match self.marks.get(&key) {
            None => State::Idle,
            Some(&(_, deadline)) if now < deadline => State::Running,
            Some(_) => {
                self.marks.remove(&key);
                State::Expired
            }
        }
    }

    /// The fetch of generation `gen` completed: clears the mark if it is still its own.
    pub fn finish(&mut self, key: u64, gen: u64) {
        if self.marks.get(&key).is_some_and(|&(g, _)| g == gen) {
            self.marks.remove(&key);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Idle,
    Running,
    /// A mark was found past its deadline (its completion was lost) and dropped.
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_clears_its_mark() {
        let mut f = Inflight::default();
        let g = f.start(1, 100);
        assert_eq!(f.check(1, 50), State::Running);
        f.finish(1, g);
        assert_eq!(f.check(1, 50), State::Idle);
    }

    // Issue 10 item 8: one lost completion left the document pending forever.
    #[test]
    fn a_lost_completion_expires_at_the_deadline() {
        let mut f = Inflight::default();
        f.start(1, 100);
        assert_eq!(f.check(1, 99), State::Running);
        assert_eq!(f.check(1, 100), State::Expired);
        assert_eq!(f.check(1, 100), State::Idle, "a new fetch may start");
    }

    #[test]
    fn a_late_completion_does_not_clear_a_newer_fetch() {
        let mut f = Inflight::default();
        let old = f.start(1, 100);
        assert_eq!(f.check(1, 200), State::Expired);
        let new = f.start(1, 300);
        f.finish(1, old);
        assert_eq!(f.check(1, 200), State::Running);
        f.finish(1, new);
        assert_eq!(f.check(1, 200), State::Idle);
    }
}
