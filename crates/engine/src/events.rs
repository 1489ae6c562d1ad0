//! The daemon's event bus: every lifecycle change becomes a Docker event on a broadcast
//! channel, with a bounded in-memory log so `docker events --since` can replay.

use berth_api::Filters;
use berth_api::system::{Event, EventActor};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How many past events are kept for `since` replays.
const KEPT_EVENTS: usize = 1024;

/// Publishes events and replays recent ones.
pub struct Events {
    tx: broadcast::Sender<Event>,
    log: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
            log: Mutex::new(VecDeque::new()),
        }
    }
}

impl Events {
    /// Publishes `action` on object `id` of `kind` ("container", "image") with attributes.
    pub fn publish(&self, kind: &str, action: &str, id: &str, attributes: HashMap<String, String>) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i64;
        let from = attributes.get("image").cloned();
        let event = Event {
            kind: kind.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
            status: Some(action.to_string()),
            id: Some(id.to_string()),
            from,
        };
        if let Ok(mut log) = self.log.lock() {
            if log.len() >= KEPT_EVENTS {
                log.pop_front();
            }
            log.push_back(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Past events between `since` and `until` (seconds), then a live receiver.
    pub fn subscribe(&self, since: Option<f64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let rx = self.tx.subscribe();
        let past = match (since, self.log.lock()) {
            (Some(s), Ok(log)) => {
                let from = (s * 1e9) as i64;
                log.iter()
                    .filter(|e| e.time_nano >= from)
                    .cloned()
                    .collect()
            }
            _ => Vec::new(),
        };
        (past, rx)
    }
}

/// Whether `e` passes Docker's event filters (type, event/action, container, image, label).
pub fn matches(e: &Event, filters: &Filters) -> bool {
    let any = |key: &str, value: &str| {
        let wanted = filters.get(key);
        wanted.is_empty() || wanted.iter().any(|w| w == value)
    };
    let name = e
        .actor
        .attributes
        .get("name")
        .map(String::as_str)
        .unwrap_or("");
    // Docker matches `container=` against every event's actor (id or name, by prefix), so
    // the filter also drops events of other types.
    let object_ok = {
        let c = filters.get("container");
        c.is_empty()
            || (e.kind == "container"
                && c.iter()
                    .any(|w| name.starts_with(w.as_str()) || e.actor.id.starts_with(w.as_str())))
    };
    let image_ok = {
        let wanted = filters.get("image");
        let img = e
            .actor
            .attributes
            .get("image")
            .map(String::as_str)
            .unwrap_or("");
        wanted.is_empty()
            || wanted
                .iter()
                .any(|w| w == img || (e.kind == "image" && (w == &e.actor.id || w == name)))
    };
    let labels_ok = filters
        .get("label")
        .iter()
        .all(|l| match l.split_once('=') {
            Some((k, v)) => e.actor.attributes.get(k).map(String::as_str) == Some(v),
            None => e.actor.attributes.contains_key(l.as_str()),
        });
    any("type", &e.kind) && any("event", &e.action) && object_ok && image_ok && labels_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, id: &str, name: &str) -> Event {
        let events = Events::default();
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), name.to_string());
        events.publish(kind, "create", id, attrs);
        let (mut past, _) = events.subscribe(Some(0.0));
        past.remove(0)
    }

    fn filters(key: &str, value: &str) -> Filters {
        Filters(std::iter::once((key.to_string(), vec![value.to_string()])).collect())
    }

    #[test]
    fn container_filter_drops_other_types() {
        let f = filters("container", "web");
        assert!(matches(&event("container", "abc123", "web"), &f));
        assert!(matches(
            &event("container", "abc123", "other"),
            &filters("container", "abc")
        ));
        assert!(!matches(&event("container", "abc123", "other"), &f));
        assert!(!matches(&event("image", "sha256:aa", "web"), &f));
        assert!(!matches(&event("network", "web", "web"), &f));
        assert!(matches(
            &event("image", "sha256:aa", "busybox"),
            &Filters::default()
        ));
    }
}
