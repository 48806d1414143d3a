//! Utilization (capacity) limits: the org default, per-agent overrides, and their wire form.

use std::collections::BTreeMap;

use crate::{
    genesys::models::{MediaUtilization, UtilizationResponse},
    sim::agent::Media,
};

/// Largest capacity Genesys accepts for one media type.
pub const MAX_CAPACITY: u32 = 25;

/// Maximum concurrent interactions per [`Media`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utilization {
    pub caps: [u8; 5],
}

impl Utilization {
    /// The org default of the reference example: call 1, callback 1, chat 4, email 1,
    /// message 1.
    pub const ORG_DEFAULT: Utilization = Utilization {
        caps: [1, 1, 4, 1, 1],
    };

    pub fn capacity(&self, media: Media) -> u8 {
        self.caps[media.index()]
    }

    /// Applies the media given in an admin body over `self`; media left out keep their
    /// value. Capacities above 25 are refused, naming the media type.
    pub fn merged(&self, body: &UtilizationResponse) -> Result<Self, String> {
        let mut caps = self.caps;
        for (name, media) in &body.utilization {
            let known = Media::parse(name).ok_or_else(|| format!("unknown media type {name:?}"))?;
            if let Some(cap) = media.maximum_capacity {
                if cap > MAX_CAPACITY {
                    return Err(format!("{name}.maximumCapacity {cap} is outside 0..=25"));
                }
                caps[known.index()] = cap as u8;
            }
        }
        Ok(Self { caps })
    }

    /// The wire form. `level` is `Agent`/`Organization` on the user endpoint, absent on the org
    /// endpoint. The interruptible lists are those of the reference example (constructed
    /// there, UNCONFIRMED).
    pub fn to_model(self, level: Option<&str>) -> UtilizationResponse {
        let utilization: BTreeMap<String, MediaUtilization> = Media::ALL
            .into_iter()
            .map(|m| {
                let interruptable: &[&str] = match m {
                    Media::Chat => &["call"],
                    Media::Email => &["call", "callback", "chat", "message"],
                    _ => &[],
                };
                (
                    m.name().to_owned(),
                    MediaUtilization {
                        maximum_capacity: Some(u32::from(self.capacity(m))),
                        interruptable_media_types: Some(
                            interruptable.iter().map(|s| (*s).to_owned()).collect(),
                        ),
                        include_non_acd: Some(false),
                    },
                )
            })
            .collect();
        UtilizationResponse {
            utilization,
            label_utilizations: Some(BTreeMap::new()),
            max_inbound_calls: None,
            level: level.map(str::to_owned),
        }
    }
}
