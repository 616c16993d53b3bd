//! The one batching rule: split a list of items into consecutive chunks that each fit a
//! route's caps, both in item count and in encoded bytes (docs/brevo-api-notes.md §1.6,
//! §1.8, §3, §5.2–§5.4):
//! - list membership add/remove: 150 entries a call;
//! - categories and products batch upserts: 100 items a call;
//! - orders batch: 1,000 orders and 5 MB a call;
//! - contact import `jsonBody`: Brevo caps the body at 10 MB and recommends staying near
//!   8 MB, so each call stays under 8 MB.
//!
//! Items keep their order and each lands in exactly one chunk. An item too large to fit
//! any chunk alone is reported instead of being sent to a certain refusal.

use std::ops::Range;

use serde::Serialize;

use crate::error::{Error, Result};

/// Entries per list add/remove call.
pub const LIST_MEMBERS_PER_CALL: usize = 150;
/// Items per `/categories/batch` call.
pub const CATEGORIES_PER_CALL: usize = 100;
/// Items per `/products/batch` call (1000 needs a raised account limit, so not assumed).
pub const PRODUCTS_PER_CALL: usize = 100;
/// Orders per `/orders/status/batch` call.
pub const ORDERS_PER_CALL: usize = 1000;
/// Bytes per `/orders/status/batch` call (5 MB, read as decimal megabytes: the smaller).
pub const ORDERS_MAX_BYTES: usize = 5_000_000;
/// Bytes per `/contacts/import` call with a `jsonBody`.
pub const IMPORT_MAX_BYTES: usize = 8_000_000;

/// A route's caps: items per call and encoded bytes per call (the whole request body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    pub max_items: usize,
    pub max_bytes: usize,
}

impl ChunkLimits {
    pub const fn items(max_items: usize) -> Self {
        Self {
            max_items,
            max_bytes: usize::MAX,
        }
    }
}

/// The encoded size of a JSON array holding items of these sizes: brackets and commas.
pub fn array_bytes(sizes: &[usize]) -> usize {
    2 + sizes.iter().sum::<usize>() + sizes.len().saturating_sub(1)
}

/// Splits items of encoded sizes `sizes` into consecutive index ranges. Each range holds
/// at most `limits.max_items` items (at least one), and `envelope` (the rest of the
/// request body) plus the encoded array of the range is at most `limits.max_bytes`.
/// Greedy: a chunk closes only when the next item would break a cap. `Err(i)` names the
/// first item that cannot fit even alone.
pub fn chunk_ranges(
    sizes: &[usize],
    limits: ChunkLimits,
    envelope: usize,
) -> std::result::Result<Vec<Range<usize>>, usize> {
    let max_items = limits.max_items.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    // Bytes of the open chunk's body: envelope, brackets, items and commas.
    let mut bytes = envelope.saturating_add(2);
    for (i, &size) in sizes.iter().enumerate() {
        let open = i - start;
        let with_item = bytes
            .saturating_add(size)
            .saturating_add(usize::from(open > 0));
        if open > 0 && (open >= max_items || with_item > limits.max_bytes) {
            out.push(start..i);
            start = i;
            bytes = envelope.saturating_add(2);
        }
        let open = i - start;
        bytes = bytes
            .saturating_add(size)
            .saturating_add(usize::from(open > 0));
        if bytes > limits.max_bytes {
            return Err(i);
        }
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    Ok(out)
}

/// The encoded size of each item.
pub fn encoded_sizes<T: Serialize>(items: &[T]) -> Result<Vec<usize>> {
    items
        .iter()
        .map(|item| {
            serde_json::to_vec(item).map(|v| v.len()).map_err(|e| {
                Error::Config(format!(
                    "an item cannot be encoded as JSON: {e}; report this"
                ))
            })
        })
        .collect()
}

/// Splits `items` for a route: `what` names an item in errors (`order`), `envelope` is
/// the encoded size of the rest of the body.
pub fn chunks<'a, T: Serialize>(
    items: &'a [T],
    limits: ChunkLimits,
    envelope: usize,
    what: &str,
) -> Result<Vec<&'a [T]>> {
    let sizes = encoded_sizes(items)?;
    let ranges = chunk_ranges(&sizes, limits, envelope).map_err(|i| Error::TooLarge {
        what: format!("{what} number {} of the batch", i + 1),
        bytes: envelope + 2 + sizes[i],
        limit: limits.max_bytes,
    })?;
    Ok(ranges.into_iter().map(|r| &items[r]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_by_count() {
        let sizes = vec![1; 301];
        let r = chunk_ranges(&sizes, ChunkLimits::items(150), 0).unwrap();
        assert_eq!(r, vec![0..150, 150..300, 300..301]);
        assert!(
            chunk_ranges(&[], ChunkLimits::items(150), 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn splits_by_bytes_counting_envelope_brackets_and_commas() {
        // Body = envelope 10 + "[" + 3 + "," + 3 + "]" = 19.
        let limits = ChunkLimits {
            max_items: 100,
            max_bytes: 19,
        };
        let r = chunk_ranges(&[3, 3, 3, 3, 3], limits, 10).unwrap();
        assert_eq!(r, vec![0..2, 2..4, 4..5]);
        assert_eq!(10 + array_bytes(&[3, 3]), 19);
    }

    #[test]
    fn an_item_too_big_alone_is_named() {
        let limits = ChunkLimits {
            max_items: 100,
            max_bytes: 20,
        };
        assert_eq!(chunk_ranges(&[3, 30, 3], limits, 0), Err(1));
        let items = vec!["x".repeat(30)];
        let err = chunks(&items, limits, 0, "order").unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
        assert!(err.to_string().contains("order number 1"), "{err}");
    }

    #[test]
    fn chunks_of_real_items_fit_when_encoded() {
        let items: Vec<String> = (0..50).map(|i| "y".repeat(i * 7)).collect();
        let limits = ChunkLimits {
            max_items: 9,
            max_bytes: 1000,
        };
        let parts = chunks(&items, limits, 20, "row").unwrap();
        let mut total = 0;
        for part in parts {
            assert!(part.len() <= 9);
            assert!(20 + serde_json::to_vec(part).unwrap().len() <= 1000);
            total += part.len();
        }
        assert_eq!(total, 50);
    }

    proptest! {
        #[test]
        fn every_item_once_in_order_within_both_caps(
            sizes in proptest::collection::vec(0usize..400, 0..600),
            max_items in 1usize..200,
            max_bytes in 1usize..5000,
            envelope in 0usize..100,
        ) {
            let limits = ChunkLimits { max_items, max_bytes };
            match chunk_ranges(&sizes, limits, envelope) {
                Ok(ranges) => {
                    let mut next = 0;
                    for (n, r) in ranges.iter().enumerate() {
                        prop_assert_eq!(r.start, next);
                        prop_assert!(r.end > r.start);
                        prop_assert!(r.len() <= max_items);
                        prop_assert!(envelope + array_bytes(&sizes[r.clone()]) <= max_bytes);
                        // Greedy: the next item would have broken a cap.
                        if n + 1 < ranges.len() {
                            let grown = &sizes[r.start..=r.end];
                            prop_assert!(grown.len() > max_items || envelope + array_bytes(grown) > max_bytes);
                        }
                        next = r.end;
                    }
                    prop_assert_eq!(next, sizes.len());
                }
                Err(i) => {
                    prop_assert!(envelope + array_bytes(&sizes[i..=i]) > max_bytes);
                    // Every item before it fit alone.
                    for s in &sizes[..i] {
                        prop_assert!(envelope + array_bytes(&[*s]) <= max_bytes);
                    }
                }
            }
        }
    }
}
