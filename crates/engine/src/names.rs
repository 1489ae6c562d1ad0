//! The in-memory index of containers by id, name and unique id prefix, and Docker-style
//! generated names (`adjective_surname`).

use crate::container::Container;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;

/// Containers by id and by name (without the leading slash).
#[derive(Default)]
pub struct Index {
    by_id: HashMap<String, Arc<Container>>,
    names: HashMap<String, String>,
}

impl Index {
    /// Finds by full id, name (`x` or `/x`) or unique id prefix.
    pub fn find(&self, key: &str) -> Option<Arc<Container>> {
        if let Some(c) = self.by_id.get(key) {
            return Some(c.clone());
        }
        if let Some(id) = self.names.get(key.trim_start_matches('/')) {
            return self.by_id.get(id).cloned();
        }
        if key.is_empty() {
            return None;
        }
        let mut found = self.by_id.iter().filter(|(id, _)| id.starts_with(key));
        match (found.next(), found.next()) {
            (Some((_, c)), None) => Some(c.clone()),
            _ => None,
        }
    }

    /// The id holding `name`, if any.
    pub fn name_owner(&self, name: &str) -> Option<&String> {
        self.names.get(name.trim_start_matches('/'))
    }

    /// Adds a container under `name`.
    pub fn insert(&mut self, name: &str, c: Arc<Container>) {
        self.names
            .insert(name.trim_start_matches('/').to_string(), c.id.clone());
        self.by_id.insert(c.id.clone(), c);
    }

    /// Moves `id` from `old` to `new`.
    pub fn rename(&mut self, old: &str, new: &str, id: &str) {
        self.names.remove(old.trim_start_matches('/'));
        self.names
            .insert(new.trim_start_matches('/').to_string(), id.to_string());
    }

    /// Forgets a container.
    pub fn remove(&mut self, id: &str) {
        self.names.retain(|_, v| v != id);
        self.by_id.remove(id);
    }

    /// Every container.
    pub fn all(&self) -> Vec<Arc<Container>> {
        self.by_id.values().cloned().collect()
    }
}

const ADJECTIVES: &[&str] = &[
    "admiring", "brave", "calm", "clever", "eager", "focused", "gallant", "happy", "jolly", "keen",
    "laughing", "modest", "nifty", "peaceful", "quirky", "relaxed", "sharp", "tender", "vibrant",
    "zealous",
];
const SURNAMES: &[&str] = &[
    "archimedes",
    "babbage",
    "curie",
    "dijkstra",
    "euler",
    "faraday",
    "gauss",
    "hopper",
    "johnson",
    "knuth",
    "lovelace",
    "meitner",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
    "yalow",
];

/// A random `adjective_surname` name.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let a = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rng.random_range(0..SURNAMES.len())];
    format!("{a}_{s}{}", rng.random_range(0..100))
}

/// The first `/name` from `generate` that `taken` does not claim, within a bounded number of
/// draws (the name space holds 40,000 names, so a busy daemon does meet collisions).
pub fn first_unused(
    taken: impl Fn(&str) -> bool,
    mut generate: impl FnMut() -> String,
) -> Option<String> {
    (0..1000)
        .map(|_| format!("/{}", generate()))
        .find(|name| !taken(name))
}

/// A random 64-hex id.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    (0..4)
        .map(|_| format!("{:016x}", rng.random::<u64>()))
        .collect()
}

/// Whether `name` is a valid container name (Docker: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid(name: &str) -> bool {
    let n = name.trim_start_matches('/');
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && n.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_taken_generated_name_is_drawn_again() {
        let mut draws = ["busy_turing1", "busy_turing1", "calm_yalow2"].into_iter();
        let got = super::first_unused(
            |n| n == "/busy_turing1",
            || draws.next().unwrap_or_default().to_string(),
        );
        assert_eq!(got.as_deref(), Some("/calm_yalow2"));
        assert_eq!(super::first_unused(|_| true, || "x".to_string()), None);
    }
}
