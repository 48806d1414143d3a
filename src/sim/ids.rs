//! Identifiers and small draws from the seeded generator.
//!
//! Everything that must repeat for a seed (org ids, event correlation ids, every decision of
//! the state machine) is drawn from a [`rand_chacha::ChaCha8Rng`] through the helpers here, which use only
//! `next_u32`/`fill_bytes` so the sequence does not depend on `rand`'s distribution code.
//! Ids that need not repeat (access tokens, channel ids, REST correlation ids) come from
//! `Uuid::new_v4`, so REST traffic never disturbs the seeded sequence.

use rand::Rng;
use uuid::Uuid;

/// A version-4-shaped UUID from the seeded generator.
pub fn uuid_from(rng: &mut impl Rng) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A number in `0..n` (`n > 0`) by multiply-shift; the bias (below n / 2^32) does not matter
/// for a simulation.
pub fn below(rng: &mut impl Rng, n: u32) -> u32 {
    ((u64::from(rng.next_u32()) * u64::from(n.max(1))) >> 32) as u32
}

/// A number in `lo..=hi`.
pub fn between(rng: &mut impl Rng, lo: u32, hi: u32) -> u32 {
    lo + below(rng, hi.saturating_sub(lo) + 1)
}

/// True with probability `per_mille / 1000`.
pub fn chance(rng: &mut impl Rng, per_mille: u32) -> bool {
    below(rng, 1000) < per_mille
}

/// One of `items`, chosen by weight; the last item when every weight is zero.
pub fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> Option<T> {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return items.last().map(|(t, _)| *t);
    }
    let mut roll = below(rng, total);
    for (item, weight) in items {
        if roll < *weight {
            return Some(*item);
        }
        roll -= weight;
    }
    items.last().map(|(t, _)| *t)
}

/// The alphabet of channel ids: lowercase base32 (RFC 4648 "extended hex"), which matches the
/// digits-and-letters look of the official examples (`streaming-0-fmtdmf8cdis7jh14udg5p89t6z`).
const CHANNEL_ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// `streaming-0-<26 lowercase base32 characters>` (130 random bits).
pub fn channel_id() -> String {
    let a = Uuid::new_v4().as_u128();
    let b = Uuid::new_v4().as_u128();
    let mut id = String::with_capacity(12 + 26);
    id.push_str("streaming-0-");
    for i in 0..26 {
        let bits = if i < 24 {
            a >> (i * 5)
        } else {
            b >> ((i - 24) * 5)
        };
        id.push(char::from(CHANNEL_ALPHABET[(bits & 31) as usize]));
    }
    id
}

/// An opaque access token (two random UUIDs, 244 random bits).
pub fn access_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn seeded_draws_repeat_and_stay_in_range() {
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(uuid_from(&mut a), uuid_from(&mut b));
        for _ in 0..1000 {
            let x = between(&mut a, 3, 5);
            assert!((3..=5).contains(&x));
            assert_eq!(x, between(&mut b, 3, 5));
        }
        assert_eq!(weighted(&mut a, &[('a', 0), ('b', 0)]), Some('b'));
        assert_eq!(weighted(&mut a, &[('a', 0), ('b', 5), ('c', 0)]), Some('b'));
    }

    #[test]
    fn channel_ids_look_like_the_official_ones() {
        let id = channel_id();
        let tail = id.strip_prefix("streaming-0-").expect("prefix");
        assert_eq!(tail.len(), 26);
        assert!(tail.bytes().all(|c| CHANNEL_ALPHABET.contains(&c)));
        assert_ne!(id, channel_id());
    }
}
